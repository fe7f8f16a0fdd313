"""The environment variable families of the scripts imagegate replaces, each mapped to providers."""

import re
from collections.abc import Callable
from urllib.parse import urlsplit

from common.catalog import model_spec
from common.config_types import KINDS, ModelSpec, ProviderSpec
from common.env import EnvReader

PLACEHOLDER = ProviderSpec(
    name="placeholder",
    kind="placeholder",
    base_url="",
    models=(model_spec("placeholder", "placeholder", "placeholder"),),
)


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
        env.problem(f"{name} must be an http(s) URL")


_IMAGE_GEN = re.compile(r"IMAGE_GEN_(MODEL|API_BASE|API_KEY|KIND)_(\d+)$")


def image_gen(env: EnvReader) -> list[ProviderSpec]:
    """IMAGE_GEN_MODEL_n / _API_BASE_n / _API_KEY_n (+ _KIND_n), n = 1, 2, … with no gap."""
    numbers = sorted({int(m.group(2)) for name in env.names("IMAGE_GEN_") if (m := _IMAGE_GEN.match(name))})
    if numbers and numbers != list(range(1, len(numbers) + 1)):
        env.problem(f"IMAGE_GEN_*_n must be numbered 1, 2, 3… without a gap (found {numbers})")
    providers = []
    for n in numbers:
        model, base, keys = (env.text(f"IMAGE_GEN_{f}_{n}") for f in ("MODEL", "API_BASE", "API_KEY"))
        kind = env.text(f"IMAGE_GEN_KIND_{n}", "chat")
        missing = [f"IMAGE_GEN_{f}_{n}" for f, v in (("MODEL", model), ("API_BASE", base), ("API_KEY", keys)) if not v]
        if missing:
            env.problem(f"{', '.join(missing)} must be set too: group {n} is half-filled")
            continue
        if kind not in KINDS:
            env.problem(f"IMAGE_GEN_KIND_{n} must be one of {', '.join(sorted(KINDS))}")
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


PROVIDER_FAMILIES: tuple[Callable[[EnvReader], list[ProviderSpec]], ...] = (image_gen,)
