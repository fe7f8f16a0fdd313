"""Pillow re-encodes: an `output_format` or `output_compression` the upstream cannot serve, and
inputs larger than an upstream takes."""

import io

from PIL import Image

from common.config.types import ModelSpec
from common.schemas import ImageOptions
from worker.upstream.sniff import ImageInfo, sniff

# The Images API's name for the format of each extension sniff() gives.
_FORMATS = {"png": "png", "jpg": "jpeg", "webp": "webp", "gif": "gif"}
_PILLOW = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}
_LOSSY = ("jpeg", "webp")
DEFAULT_COMPRESSION = 90  # Pillow's quality when a lossy format is asked without a level


def format_of(info: ImageInfo) -> str:
    """`png`, `jpeg`, `webp` (or `gif`): what the bytes are, in the Images API's words."""
    return _FORMATS[info.extension]


def target_format(info: ImageInfo, options: ImageOptions, model: ModelSpec) -> str | None:
    """The format to re-encode an image to, or None when its bytes already are what was asked:
    the asked format differs, or a compression level was asked of a lossy format the model
    does not encode itself (one it does was asked of it upstream)."""
    made = format_of(info)
    wanted = options.output_format or made
    if wanted != made:
        return wanted
    if options.output_compression is not None and wanted in _LOSSY:
        return None if wanted in model.formats else wanted
    return None


def reencode(data: bytes, target: str, compression: int | None) -> tuple[bytes, ImageInfo]:
    """`data` encoded as `target` (`png`, `jpeg`, `webp`); `compression` is the lossy quality
    0–100. JPEG has no alpha: transparent pixels land on white."""
    with Image.open(io.BytesIO(data)) as source:
        source.seek(0)  # a GIF's first frame
        image = source.convert("RGBA" if _has_alpha(source) else "RGB")
    if target == "jpeg" and image.mode == "RGBA":
        flat = Image.new("RGB", image.size, (255, 255, 255))
        flat.paste(image, mask=image.getchannel("A"))
        image = flat
    out = io.BytesIO()
    if target in _LOSSY:
        quality = DEFAULT_COMPRESSION if compression is None else compression
        image.save(out, _PILLOW[target], quality=quality)
    else:
        image.save(out, _PILLOW[target])
    encoded = out.getvalue()
    info = sniff(encoded)
    if info is None:  # Pillow wrote what we asked; this would be a bug of ours
        raise ValueError(f"re-encoding as {target} gave unrecognisable bytes")
    return encoded, info


def shrink_below(data: bytes, side: int) -> bytes:
    """`data` as it is when both its sides are under `side` px, else scaled down, keeping its
    aspect ratio, until they are (a PNG, so transparency survives)."""
    info = sniff(data)
    if info is not None and max(info.width, info.height) < side:
        return data
    with Image.open(io.BytesIO(data)) as source:
        image = source.convert("RGBA" if _has_alpha(source) else "RGB")
    image.thumbnail((side - 1, side - 1), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
