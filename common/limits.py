"""Every bound a generation request is held to, written once: the api checks them, the worker
relies on them."""

from typing import Annotated, Literal

from msgspec import Meta

MAX_PROMPT = 4000  # characters
MAX_IMAGES = 4  # `n`
MAX_SIDE = 4096  # pixels, each side a multiple of SIDE_STEP
SIDE_STEP = 8
MAX_PARTIAL_IMAGES = 3  # previews per image a stream may ask for
# A preview bigger than this is dropped rather than relayed: previews ride the job's events.
MAX_PREVIEW_BYTES = 2 * 1024 * 1024

Side = Annotated[int, Meta(ge=SIDE_STEP, le=MAX_SIDE, description="pixels, a multiple of 8")]
Count = Annotated[int, Meta(ge=1, le=MAX_IMAGES)]
Seed = Annotated[int, Meta(ge=0, le=2**32 - 1)]
Steps = Annotated[int, Meta(ge=1, le=150)]
Cfg = Annotated[float, Meta(ge=0, le=30)]
PromptText = Annotated[str, Meta(max_length=MAX_PROMPT)]
PartialImages = Annotated[int, Meta(ge=0, le=MAX_PARTIAL_IMAGES)]
Compression = Annotated[int, Meta(ge=0, le=100)]
User = Annotated[str, Meta(max_length=256)]

Quality = Literal["auto", "low", "medium", "high", "standard", "hd"]
Background = Literal["auto", "opaque", "transparent"]
OutputFormat = Literal["png", "jpeg", "webp"]
Moderation = Literal["auto", "low"]
Style = Literal["vivid", "natural"]
ResponseFormat = Literal["url", "b64_json"]
