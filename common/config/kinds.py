"""What imagegate knows about upstream models: size rules, batch sizes, seeds, step defaults."""

from typing import Any

from common.config.types import ModelSpec
from common.prompt.size_tables import DEFAULT_TABLE, ZIMAGE_TABLE

_DALL_E_2 = ((256, 256), (512, 512), (1024, 1024))
_DALL_E_3 = ((1024, 1024), (1792, 1024), (1024, 1792))
_GPT_IMAGE = ((1024, 1024), (1536, 1024), (1024, 1536))
_ALL_PARAMS = ("negative_prompt", "steps", "cfg")

# SiliconFlow's recommended Qwen-Image sizes; ratios it recommends nothing for keep the default.
_QWEN_TABLE = {
    **DEFAULT_TABLE,
    "1:1": (1328, 1328),
    "16:9": (1664, 928),
    "9:16": (928, 1664),
    "4:3": (1472, 1140),
    "3:4": (1140, 1472),
    "3:2": (1584, 1056),
    "2:3": (1056, 1584),
}

# (kind, upstream id prefix, traits): the first row whose kind and prefix match wins, so
# specific rows come before a kind's catch-all row (prefix ""). Bounds and fields follow
# ../shared/PROVIDERS.md.
_TRAITS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    (
        "openai",
        "dall-e-2",
        {"fixed_sizes": _DALL_E_2, "seeds": False, "batch": 4, "prompt_limit": 1000},
    ),
    ("openai", "dall-e-3", {"fixed_sizes": _DALL_E_3, "seeds": False, "batch": 1}),
    ("openai", "gpt-image", {"fixed_sizes": _GPT_IMAGE, "seeds": False, "batch": 4}),
    ("openai", "", {"seeds": False, "batch": 4}),
    # batch_size and guidance_scale exist for Kolors only; Qwen-Image takes `cfg` instead.
    ("siliconflow", "Kwai-Kolors/", {"batch": 4, "params": _ALL_PARAMS}),
    ("siliconflow", "Qwen/Qwen-Image", {"table": _QWEN_TABLE, "params": _ALL_PARAMS}),
    ("siliconflow", "", {"params": ("negative_prompt", "steps")}),
    # flux-1-schnell takes a prompt and steps only, and picks its size itself.
    (
        "cloudflare",
        "@cf/black-forest-labs/flux-1-schnell",
        {
            "decides_size": True,
            "seeds": False,
            "steps": 4,
            "max_steps": 8,
            "prompt_limit": 2048,
            "params": ("steps",),
        },
    ),
    ("cloudflare", "", {"min_side": 256, "max_side": 2048, "max_steps": 20, "params": _ALL_PARAMS}),
    # exacg serves Z-Image at model_index 5 by default: its table and its steps and cfg.
    (
        "exacg",
        "",
        {
            "table": ZIMAGE_TABLE,
            "min_side": 64,
            "max_side": 2048,
            "steps": 8,
            "cfg": 7.0,
            "params": _ALL_PARAMS,
        },
    ),
    ("a1111", "", {"batch": 4, "max_side": 2048, "max_steps": 150, "params": _ALL_PARAMS}),
    # Another gateway takes a chat message only: no seed, no fields, one image a call.
    ("chat", "", {"seeds": False}),
    ("placeholder", "", {"batch": 4}),
)


def model_spec(kind: str, name: str, upstream: str, **overrides: Any) -> ModelSpec:
    """The ModelSpec for `upstream` served by a provider of `kind`, with configured overrides."""
    traits = next((t for k, prefix, t in _TRAITS if k == kind and upstream.startswith(prefix)), {})
    return ModelSpec(name=name, upstream=upstream, **{**traits, **overrides})
