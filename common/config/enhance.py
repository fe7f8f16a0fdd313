"""The enhancement LLM, read from the three scripts' variable families in their order of precedence (SPEC §3)."""

import logging
from urllib.parse import urlsplit

from msgspec.structs import replace

from common.config.env import EnvReader
from common.config.families import check_url
from common.config.types import EnhanceSpec

log = logging.getLogger("imagegate.config")

OPENAI_BASE = "https://api.openai.com/v1"


def enhance_settings(env: EnvReader) -> EnhanceSpec | None:
    """The first family that is set wins; `PROMPT_OPTIMIZATION=false` turns every one off."""
    switched_on = env.flag("PROMPT_OPTIMIZATION", False)
    if env.has("PROMPT_OPTIMIZATION") and not switched_on:
        return None
    found = [spec for family in (zimage, multi_vendor, flux) if (spec := family(env)) is not None]
    if not found:
        if switched_on:
            env.problem(
                "PROMPT_OPTIMIZATION=true but no enhancement LLM is set: set EXTERNAL_API_BASE and EXTERNAL_MODEL"
            )
        return None
    system_prompt = env.text("ENHANCE_SYSTEM_PROMPT") or env.text("SYSTEM_MESSAGE")
    return replace(
        found[0], system_prompt=system_prompt, timeout=env.number("ENHANCE_TIMEOUT", 10.0, low=0.5)
    )


def zimage(env: EnvReader) -> EnhanceSpec | None:
    """The Z-Image script: ENHANCE_OPENAI_API_KEY (a comma list) turns it on."""
    keys = env.items("ENHANCE_OPENAI_API_KEY")
    if not keys:
        for name in ("ENHANCE_OPENAI_BASE_URL", "ENHANCE_OPENAI_MODEL"):
            if env.has(name):
                log.warning(
                    "%s is set but ENHANCE_OPENAI_API_KEY is not: that enhancement family stays off",
                    name,
                )
        return None
    base = env.text("ENHANCE_OPENAI_BASE_URL", OPENAI_BASE)
    check_url(env, "ENHANCE_OPENAI_BASE_URL", base)
    return EnhanceSpec(
        mode="plain",
        base_url=base,
        keys=keys,
        model=env.text("ENHANCE_OPENAI_MODEL", "gpt-4o-mini"),
    )


def multi_vendor(env: EnvReader) -> EnhanceSpec | None:
    """The multi-vendor script: on only when a model variable is set, so a stray OPENAI_API_KEY is not enough."""
    plain, reasoning = env.text("OPENAI_MODEL"), env.text("OPENAI_MODEL_REASONING")
    if plain and reasoning:
        env.problem(
            "OPENAI_MODEL and OPENAI_MODEL_REASONING are both set: set one (plain or reasoning enhancement)"
        )
        return None
    model = plain or reasoning
    if not model:
        return None
    keys = env.items("OPENAI_API_KEY")
    if not keys and not env.has("OPENAI_API_BASE"):
        env.problem(
            "OPENAI_MODEL or OPENAI_MODEL_REASONING is set: set OPENAI_API_KEY (or OPENAI_API_BASE for a keyless LLM)"
        )
    base = env.text("OPENAI_API_BASE", OPENAI_BASE)
    check_url(env, "OPENAI_API_BASE", base)
    return EnhanceSpec(
        mode="reasoning" if reasoning else "plain",
        base_url=base,
        keys=keys,
        model=model,
    )


def flux(env: EnvReader) -> EnhanceSpec | None:
    """The Flux script: PROMPT_OPTIMIZATION=true with EXTERNAL_API_BASE (written without /v1) and EXTERNAL_MODEL."""
    if not env.flag("PROMPT_OPTIMIZATION", False):
        return None
    names = ("EXTERNAL_API_BASE", "EXTERNAL_MODEL")
    base, model = (env.text(name) for name in names)
    if not (base or model or env.has("EXTERNAL_API_KEY")):
        return None
    if not (base and model):
        env.problem(f"PROMPT_OPTIMIZATION=true needs {' and '.join(names)}")
        return None
    check_url(env, "EXTERNAL_API_BASE", base)
    return EnhanceSpec(
        mode="plain", base_url=_with_v1(base), keys=env.items("EXTERNAL_API_KEY"), model=model
    )


def _with_v1(base: str) -> str:
    """The Flux script posted to EXTERNAL_API_BASE + /v1/chat/completions: its root is made a /v1 root."""
    path = urlsplit(base).path.rstrip("/")
    if path.endswith(("/v1", "/chat/completions")):
        return base
    return base.rstrip("/") + "/v1"
