"""The environment variable families of the scripts imagegate replaces, each mapped to providers."""

import re
from collections.abc import Callable
from urllib.parse import urlsplit

from msgspec.structs import replace

from common.config.env import EnvReader, shown
from common.config.kinds import KINDS, ZIMAGE_INDEX, model_spec
from common.config.types import ModelSpec, ProviderSpec

PLACEHOLDER = ProviderSpec(
    name="placeholder",
    kind="placeholder",
    base_url="",
    models=(model_spec("placeholder", "placeholder", "placeholder"),),
)
CLOUDFLARE_FLUX = "@cf/black-forest-labs/flux-1-schnell"


def parse_models(kind: str, text: str) -> tuple[ModelSpec, ...]:
    """'flux-dev, fast=black-forest-labs/FLUX.1-schnell' → models; `public=upstream` renames."""
    models = []
    for item in text.split(","):
        public, _, upstream = item.strip().partition("=")
        if public.strip():
            models.append(model_spec(kind, public.strip(), (upstream or public).strip()))
    return tuple(models)


def check_url(env: EnvReader, name: str, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        env.problem(f"{name} must be an http(s) URL (got {shown(name, url)})")


_IMAGE_GEN = re.compile(r"IMAGE_GEN_(MODEL|API_BASE|API_KEY|KIND)_(\d+)$")


def image_gen(env: EnvReader) -> list[ProviderSpec]:
    """IMAGE_GEN_MODEL_n / _API_BASE_n / _API_KEY_n (+ _KIND_n), n = 1, 2, … with no gap."""
    numbers = sorted(
        {int(m.group(2)) for name in env.names("IMAGE_GEN_") if (m := _IMAGE_GEN.match(name))}
    )
    if numbers and numbers != list(range(1, len(numbers) + 1)):
        env.problem(f"IMAGE_GEN_*_n must be numbered 1, 2, 3… without a gap (found {numbers})")
    providers = []
    for n in numbers:
        model, base, keys = (
            env.text(f"IMAGE_GEN_{f}_{n}") for f in ("MODEL", "API_BASE", "API_KEY")
        )
        kind = (env.text(f"IMAGE_GEN_KIND_{n}") or "chat").lower()
        if kind not in KINDS:
            env.bad(f"IMAGE_GEN_KIND_{n}", "one of " + ", ".join(sorted(KINDS)))
            continue
        # The key may be left out for a kind that needs none (a local A1111 or openai server).
        needed = (
            ("MODEL", model),
            ("API_BASE", base),
            ("API_KEY", keys or not KINDS[kind].needs_keys),
        )
        missing = [f"IMAGE_GEN_{f}_{n}" for f, v in needed if not v]
        if missing or not (model and base):
            env.problem(f"{', '.join(missing)} must be set too: group {n} is half-filled")
            continue
        check_url(env, f"IMAGE_GEN_API_BASE_{n}", base)
        providers.append(
            ProviderSpec(
                name=f"image-gen-{n}",
                kind=kind,
                base_url=base,
                keys=env.items(f"IMAGE_GEN_API_KEY_{n}"),
                models=parse_models(kind, model),
            )
        )
    return providers


def flux_gen(env: EnvReader) -> list[ProviderSpec]:
    """FLUX_GEN_MODEL / FLUX_GEN_API_BASE / FLUX_GEN_API_KEY (the Flux script): one siliconflow provider."""
    if not any(env.has(f"FLUX_GEN_{name}") for name in ("MODEL", "API_BASE", "API_KEY")):
        return []
    keys = env.items("FLUX_GEN_API_KEY")
    if not keys:
        env.problem("FLUX_GEN_API_KEY must be set too: FLUX_GEN_MODEL / FLUX_GEN_API_BASE are set")
        return []
    base = env.text("FLUX_GEN_API_BASE", KINDS["siliconflow"].base_url)
    check_url(env, "FLUX_GEN_API_BASE", base)
    models = parse_models(
        "siliconflow", env.text("FLUX_GEN_MODEL", "black-forest-labs/FLUX.1-schnell")
    )
    return [
        ProviderSpec(name="flux-gen", kind="siliconflow", base_url=base, keys=keys, models=models)
    ]


def zimage(env: EnvReader) -> list[ProviderSpec]:
    """SD_API_KEY (+ SD_API_BASE, SD_MODEL_INDEX) (the Z-Image script): exacg serving `Z-Image`."""
    keys = env.items("SD_API_KEY")
    if not keys:
        if env.has("SD_API_BASE") or env.has("SD_MODEL_INDEX"):
            env.problem("SD_API_KEY must be set too: SD_API_BASE / SD_MODEL_INDEX are set")
        return []
    base = env.text("SD_API_BASE", KINDS["exacg"].base_url)
    check_url(env, "SD_API_BASE", base)
    options: dict[str, str | int | float | bool] = {
        "model_index": env.integer("SD_MODEL_INDEX", ZIMAGE_INDEX, low=0)
    }
    models = (model_spec("exacg", "Z-Image", "Z-Image"),)
    return [
        ProviderSpec(
            name="exacg", kind="exacg", base_url=base, keys=keys, models=models, options=options
        )
    ]


def workers_ai(env: EnvReader) -> list[ProviderSpec]:
    """CF_ACCOUNT_ID + CF_API_TOKEN (+ FLUX_NUM_STEPS, CF_API_BASE, CF_MODEL or FLUX_MODEL): one
    cloudflare provider. Several tokens share one account, or pair with as many accounts."""
    accounts, tokens = env.items("CF_ACCOUNT_ID"), env.items("CF_API_TOKEN")
    if not accounts and not tokens:
        return []
    if not accounts or not tokens or len(accounts) not in (1, len(tokens)):
        env.problem(
            "CF_ACCOUNT_ID and CF_API_TOKEN go together: one account for every token, or one account per token"
        )
        return []
    base = env.text("CF_API_BASE", KINDS["cloudflare"].base_url)
    check_url(env, "CF_API_BASE", base)
    steps = env.integer("FLUX_NUM_STEPS", 4, low=1, high=8)
    models = parse_models(
        "cloudflare", env.text("CF_MODEL") or env.text("FLUX_MODEL") or CLOUDFLARE_FLUX
    )
    # FLUX_NUM_STEPS is the Flux script's: it sets flux-1-schnell's steps (1–8) only, not the
    # FLUX.2 models' (dev runs its own default, klein a fixed 4).
    models = tuple(replace(m, steps=steps) if m.upstream == CLOUDFLARE_FLUX else m for m in models)
    single = len(accounts) == 1
    keys = (
        tokens
        if single
        else tuple(f"{account}:{token}" for account, token in zip(accounts, tokens, strict=False))
    )
    options: dict[str, str | int | float | bool] = {"account_id": accounts[0]} if single else {}
    return [
        ProviderSpec(
            name="cloudflare",
            kind="cloudflare",
            base_url=base,
            keys=keys,
            models=models,
            options=options,
        )
    ]


PROVIDER_FAMILIES: tuple[Callable[[EnvReader], list[ProviderSpec]], ...] = (
    image_gen,
    flux_gen,
    zimage,
    workers_ai,
)
