"""One table of the kinds of upstream API: keys, where it lives, its options and its models' traits.

Each `Kind` says whether a provider of it needs keys, its default base URL and endpoint path,
the provider options it reads (with their defaults), whether it edits images, the adapter
module of worker/providers that calls it, and rows of model traits by upstream-id prefix:
which of our optional fields a model takes, how many images one call returns, whether it
decides its size itself and honours a seed, its size table and bounds.
"""

from typing import Any

import msgspec

from common.config.types import ModelSpec
from common.prompt.size_tables import DEFAULT_TABLE, ZIMAGE_TABLE

_DALL_E_2 = ((256, 256), (512, 512), (1024, 1024))
_DALL_E_3 = ((1024, 1024), (1792, 1024), (1024, 1792))
_GPT_IMAGE = ((1024, 1024), (1536, 1024), (1024, 1536))
_ALL_PARAMS = ("negative_prompt", "steps", "cfg")
# Which models edit input images (ModelSpec.edits), how many at once, whether a mask marks where.
_EDITS_ONE = {"edits": True, "edit_images": 1, "masks": "optional"}
_EDITS_MANY = {"edits": True, "edit_images": 16, "masks": "optional"}
# The Images API fields each OpenAI family takes as they are.
_GPT_IMAGE_TRAITS = {
    "params": ("background", "output_format", "output_compression", "moderation", "user"),
    "transparent": True,
    "formats": ("png", "jpeg", "webp"),
    "previews": True,  # streamed with partial_images
}

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

_SD15 = {"min_side": 256, "max_side": 2048, "max_steps": 20, "params": _ALL_PARAMS}
# Workers AI's FLUX.2: a size of 256–1920, up to four reference images and no mask; klein
# runs a fixed 4 steps, so only dev takes `steps`.
_FLUX2 = {"min_side": 256, "max_side": 1920, "edits": True, "edit_images": 4}

# exacg's model_index of Z-Image, as in the script imagegate replaces (other clients differ).
ZIMAGE_INDEX = 5

OptionValue = str | int | float | bool | None
# (upstream id prefix, ModelSpec fields): the first row whose prefix matches wins, so specific
# rows come before the kind's catch-all row (prefix "").
TraitRow = tuple[str, dict[str, Any]]


class Kind(msgspec.Struct, frozen=True, kw_only=True):
    """What imagegate knows about one kind of upstream API."""

    adapter: str  # the module of worker/providers that calls it
    needs_keys: bool = False
    base_url: str = ""  # its public API, for a provider whose configuration names no base URL
    # The path appended to a base URL that stops at an API root (worker/providers/base.py
    # endpoint_url); written from the root, e.g. `/v1/images/generations`.
    endpoint: str = ""
    # A base URL of this kind is by convention a server root (a reverse proxy may add a path
    # prefix): the endpoint is appended unless the URL already ends with it.
    server_root: bool = False
    options: dict[str, OptionValue] = {}  # provider options it reads, with their defaults
    edits: bool = False  # whether its adapter edits images as well as generating them
    models: tuple[TraitRow, ...] = (("", {}),)

    def traits(self, upstream: str) -> dict[str, Any]:
        """The ModelSpec fields of the first row whose prefix `upstream` starts with."""
        return next((t for prefix, t in self.models if upstream.startswith(prefix)), {})


KINDS: dict[str, Kind] = {
    "openai": Kind(
        adapter="openai",
        base_url="https://api.openai.com/v1",
        endpoint="/v1/images/generations",
        models=(
            (
                "dall-e-2",
                {
                    "fixed_sizes": _DALL_E_2,
                    "seeds": False,
                    "batch": 4,
                    "prompt_limit": 1000,
                    "params": ("user",),
                    **_EDITS_ONE,
                },
            ),
            (
                "dall-e-3",
                {"fixed_sizes": _DALL_E_3, "seeds": False, "batch": 1, "params": ("style", "user")},
            ),
            (
                "gpt-image",
                {
                    "fixed_sizes": _GPT_IMAGE,
                    "seeds": False,
                    "batch": 4,
                    **_GPT_IMAGE_TRAITS,
                    **_EDITS_MANY,
                },
            ),
            ("", {"seeds": False, "batch": 4, **_EDITS_MANY}),
        ),
        edits=True,
    ),
    "siliconflow": Kind(
        adapter="siliconflow",
        needs_keys=True,
        base_url="https://api.siliconflow.cn/v1",
        endpoint="/v1/images/generations",
        models=(
            # batch_size and guidance_scale exist for Kolors only; Qwen-Image takes `cfg` instead.
            ("Kwai-Kolors/", {"batch": 4, "params": _ALL_PARAMS}),
            # The Qwen edit models take their inputs inline (`image`, `image2`, `image3`) and
            # size the answer from them: they refuse image_size.
            (
                "Qwen/Qwen-Image-Edit-2509",
                {"decides_size": True, "params": _ALL_PARAMS, "edits": True, "edit_images": 3},
            ),
            ("Qwen/Qwen-Image-Edit", {"decides_size": True, "params": _ALL_PARAMS, "edits": True}),
            ("Qwen/Qwen-Image", {"table": _QWEN_TABLE, "params": _ALL_PARAMS}),
            ("", {"params": ("negative_prompt", "steps")}),
        ),
        edits=True,
    ),
    "cloudflare": Kind(
        adapter="cloudflare",
        server_root=True,
        needs_keys=True,
        base_url="https://api.cloudflare.com/client/v4",
        endpoint="/accounts/{account}/ai/run",  # then the model; a key may name its account
        options={"account_id": None},
        models=(
            # flux-1-schnell takes a prompt and steps only, and picks its size itself.
            (
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
            ("@cf/black-forest-labs/flux-2-dev", {**_FLUX2, "params": ("steps", "cfg")}),
            ("@cf/black-forest-labs/flux-2-klein", {**_FLUX2, "params": ("cfg",)}),
            # Stable Diffusion 1.5 img2img and inpainting: one input; inpainting needs a mask.
            ("@cf/runwayml/stable-diffusion-v1-5-img2img", {**_SD15, "edits": True}),
            (
                "@cf/runwayml/stable-diffusion-v1-5-inpainting",
                {**_SD15, "edits": True, "masks": "required"},
            ),
            ("", _SD15),
        ),
        edits=True,
    ),
    "exacg": Kind(
        adapter="exacg",
        server_root=True,
        needs_keys=True,
        base_url="https://sd.exacg.cc",
        endpoint="/api/v1/generate_image",
        # Z-Image by default: its index, and below its table, steps and cfg.
        options={"model_index": ZIMAGE_INDEX},
        models=(
            (
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
        ),
    ),
    "a1111": Kind(
        adapter="a1111",
        server_root=True,
        endpoint="/sdapi/v1/txt2img",
        options={"sampler": None},
        # Live previews, read per task from /internal/progress while it renders.
        models=(
            (
                "",
                {
                    "batch": 4,
                    "max_side": 2048,
                    "max_steps": 150,
                    "params": _ALL_PARAMS,
                    "previews": True,
                    **_EDITS_ONE,
                },
            ),
        ),
        edits=True,
    ),
    # Another gateway takes a chat message only: no seed, no fields, one image a call. Input
    # images go as image_url parts of that message, which has no place for a mask.
    "chat": Kind(
        adapter="chat",
        endpoint="/v1/chat/completions",
        models=(("", {"seeds": False, "edits": True, "edit_images": 16}),),
        edits=True,
    ),
    "placeholder": Kind(
        adapter="placeholder", models=(("", {"batch": 4, **_EDITS_MANY}),), edits=True
    ),
}

# Every provider option any kind reads: the [[providers]] entries of the TOML file may set them.
OPTION_NAMES = tuple(dict.fromkeys(name for kind in KINDS.values() for name in kind.options))


def model_spec(kind: str, name: str, upstream: str, **overrides: Any) -> ModelSpec:
    """The ModelSpec for `upstream` served by a provider of `kind`, with configured overrides."""
    traits = KINDS[kind].traits(upstream) if kind in KINDS else {}
    return ModelSpec(name=name, upstream=upstream, **{**traits, **overrides})
