"""The optional TOML file named by IMAGEGATE_CONFIG: single settings, and any number of providers.

[settings]                      # any variable of .env.example; the environment wins
DEFAULT_MODEL = "kolors"

[[providers]]
name = "sf"                     # unique; shown to clients in messages, never a key
kind = "siliconflow"            # openai, siliconflow, cloudflare, exacg, a1111, chat
base_url = "https://api.siliconflow.cn/v1"   # optional for kinds with a public API
keys = ["sk-1", "sk-2"]         # or keys_env = "SF_TOKENS": a variable holding them
timeout = 180                   # seconds for one call (default PROVIDER_TIMEOUT)
models = ["kolors=Kwai-Kolors/Kolors", { name = "qwen", upstream = "Qwen/Qwen-Image", steps = 30 }]
"""

import tomllib
from typing import Any

import msgspec
from msgspec.structs import replace

from common.config.env import EnvReader
from common.config.families import check_url, parse_models
from common.config.kinds import KINDS, OPTION_NAMES, model_spec
from common.config.types import ModelSpec, ProviderSpec
from common.prompt.size_tables import RATIOS, TABLES, Size, parse_size

CONFIG_VARIABLE = "IMAGEGATE_CONFIG"
PARAMS = ("negative_prompt", "steps", "cfg")


class _Model(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    upstream: str | None = None
    steps: int | None = None
    max_steps: int | None = None
    cfg: float | None = None
    table: str | dict[str, str] | None = None  # "default", "zimage", or {"16:9": "1344x768", …}
    sizes: list[str] | None = None  # the only sizes the model makes
    decides_size: bool | None = None
    min_side: int | None = None
    max_side: int | None = None
    seeds: bool | None = None
    batch: int | None = None
    prompt_limit: int | None = None
    params: list[str] | None = None
    transparent: bool | None = None  # it makes transparent backgrounds


class _Provider(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    kind: str
    models: list[str | _Model]
    base_url: str | None = None
    keys: list[str] = []
    keys_env: str | None = None
    timeout: float | None = None
    # The kinds' options (common/config/kinds.py OPTION_NAMES): a test checks the file takes each.
    model_index: int | None = None  # exacg
    account_id: str | None = None  # cloudflare
    sampler: str | None = None  # a1111


class _File(msgspec.Struct, forbid_unknown_fields=True):
    settings: dict[str, str | int | float | bool] = {}
    providers: list[_Provider] = []


class ConfigFile:
    """What the file says; `problems` lists what is wrong with it."""

    def __init__(
        self,
        path: str | None = None,
        content: _File | None = None,
        problems: list[str] | None = None,
    ) -> None:
        self.path = path
        self._content = content or _File()
        self.problems = problems or []

    @classmethod
    def read(cls, path: str | None) -> "ConfigFile":
        if not path:
            return cls()
        try:
            with open(path, "rb") as file:
                return cls(path, msgspec.convert(tomllib.load(file), _File))
        except OSError as exc:
            return cls(path, problems=[f"{CONFIG_VARIABLE}: cannot read {path}: {exc.strerror}"])
        except (tomllib.TOMLDecodeError, msgspec.ValidationError) as exc:
            return cls(path, problems=[f"{path}: {exc}"])

    @property
    def settings(self) -> dict[str, str]:
        """The [settings] table as environment variables would hold it."""
        return {name.upper(): _as_text(value) for name, value in self._content.settings.items()}

    def providers(self, env: EnvReader) -> list[ProviderSpec]:
        return [
            spec for provider in self._content.providers if (spec := self._provider(env, provider))
        ]

    def _provider(self, env: EnvReader, provider: _Provider) -> ProviderSpec | None:
        where = f"{self.path}: provider {provider.name!r}"
        kind_name = provider.kind.lower()  # kind names are case-insensitive
        if kind_name not in KINDS:
            env.problem(
                f"{where}: kind must be one of {', '.join(sorted(KINDS))} (got {provider.kind!r})"
            )
            return None
        kind = KINDS[kind_name]
        base = provider.base_url or kind.base_url
        if kind_name != "placeholder":
            check_url(env, f"{where}: base_url", base)
        keys = tuple(provider.keys) + (env.items(provider.keys_env) if provider.keys_env else ())
        if kind.needs_keys and not keys:
            env.problem(
                f"{where}: a {kind_name} provider needs keys (keys, or keys_env naming a variable)"
            )
        options = {
            name: value for name in OPTION_NAMES if (value := getattr(provider, name)) is not None
        }
        if (
            kind_name == "cloudflare"
            and "account_id" not in options
            and not all(":" in key for key in keys)
        ):
            env.problem(f"{where}: set account_id, or write each key as account_id:token")
        models = tuple(m for item in provider.models if (m := _model(env, where, kind_name, item)))
        if not models:
            env.problem(f"{where}: list at least one model")
        return ProviderSpec(
            name=provider.name,
            kind=kind_name,
            base_url=base,
            keys=keys,
            models=models,
            options=options,
            timeout=provider.timeout,
        )


def _model(env: EnvReader, where: str, kind: str, item: str | _Model) -> ModelSpec | None:
    if isinstance(item, str):
        models = parse_models(kind, item)
        return models[0] if models else None
    overrides: dict[str, Any] = {
        name: value
        for name in (
            "steps",
            "max_steps",
            "cfg",
            "decides_size",
            "min_side",
            "max_side",
            "seeds",
            "batch",
            "prompt_limit",
            "transparent",
        )
        if (value := getattr(item, name)) is not None
    }
    if item.params is not None:
        if unknown := set(item.params) - set(PARAMS):
            env.problem(
                f"{where}: model {item.name!r}: params may only hold {', '.join(PARAMS)}, not {', '.join(sorted(unknown))}"
            )
        overrides["params"] = tuple(item.params)
    if item.sizes is not None:
        overrides["fixed_sizes"] = tuple(_size(env, where, item.name, text) for text in item.sizes)
    model = model_spec(kind, item.name, item.upstream or item.name, **overrides)
    if item.table is not None:
        model = replace(model, table={**model.table, **_table(env, where, item.name, item.table)})
    if model.steps is not None and model.steps > model.max_steps:
        env.problem(
            f"{where}: model {item.name!r}: steps {model.steps} is above max_steps {model.max_steps}"
        )
    return model


def _table(env: EnvReader, where: str, model: str, table: str | dict[str, str]) -> dict[str, Size]:
    if isinstance(table, str):
        if table not in TABLES:
            env.problem(
                f"{where}: model {model!r}: table must be one of {', '.join(TABLES)} or a table of ratios"
            )
        return dict(TABLES.get(table, {}))
    if unknown := set(table) - set(RATIOS):
        env.problem(
            f"{where}: model {model!r}: the table's ratios must be among {' '.join(RATIOS)}; not {', '.join(sorted(unknown))}"
        )
    return {
        ratio: _size(env, where, model, text) for ratio, text in table.items() if ratio in RATIOS
    }


def _size(env: EnvReader, where: str, model: str, text: str) -> Size:
    size = parse_size(text)
    if size is None or 0 in size:
        env.problem(f"{where}: model {model!r}: {text!r} is not a size like 1024x768")
        return (1024, 1024)
    return size


def _as_text(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
