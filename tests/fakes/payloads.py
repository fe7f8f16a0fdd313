"""Bodies fake upstreams answer with: distinct real PNGs, oversized images, HTML pages."""

import functools
import io
import struct
import zlib
from typing import Literal

from PIL import Image

from worker.render.png import solid_png

Kind = Literal["png", "huge", "html"]

# Above any sane download limit (20 MB or 20 MiB), so the gateway must refuse it.
HUGE_SIZE = 21 * 1024 * 1024

NOT_AN_IMAGE_HTML = (
    "<!DOCTYPE html>\n<html><head><title>Image unavailable</title></head>"
    "<body><h1>Oops</h1><p>This is a web page, not an image.</p></body></html>\n"
)

CLOUDFLARE_CHALLENGE_HTML = """<!DOCTYPE html>
<html lang="en-US">
<head>
<title>Just a moment...</title>
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8">
<meta name="robots" content="noindex,nofollow">
</head>
<body>
<div class="main-wrapper" role="main">
<div class="main-content">
<h1 class="zone-name-title h1">api.example.com</h1>
<h2 class="h2" id="challenge-running">Checking if the site connection is secure</h2>
<noscript><div class="h2">Enable JavaScript and cookies to continue</div></noscript>
</div>
</div>
<script>window._cf_chl_opt = {cvId: '3', cType: 'managed'};</script>
</body>
</html>
"""


def distinct_colour(index: int) -> tuple[int, int, int]:
    """A colour unique to `index` for the first 2**24 indexes (an odd multiplier is a bijection)."""
    value = (index * 0x9E3779 + 0x3C6EF3) % (1 << 24)
    return value >> 16, (value >> 8) & 0xFF, value & 0xFF


@functools.cache
def huge_png() -> bytes:
    """A valid 64x64 PNG padded past HUGE_SIZE by a private ancillary chunk; built once."""
    png = solid_png(64, 64, (200, 30, 30))
    padding = bytes(HUGE_SIZE)
    chunk = (
        struct.pack(">I", len(padding))
        + b"huGe"
        + padding
        + struct.pack(">I", zlib.crc32(b"huGe" + padding))
    )
    iend = png[-12:]  # length, b"IEND", crc
    return png[:-12] + chunk + iend


class ImageMaker:
    """Makes the images a fake answers with and remembers their bytes, in order."""

    def __init__(self) -> None:
        self.produced: list[bytes] = []

    def make(
        self,
        width: int,
        height: int,
        kind: Kind = "png",
        *,
        output_format: str = "png",
        transparent: bool = False,
    ) -> tuple[bytes, str]:
        """The image's bytes and the content type to serve them with: a PNG, unless another
        `output_format` or a `transparent` background (half the image see-through) is asked."""
        if kind == "huge":
            image, content_type = huge_png(), "image/png"
        elif kind == "html":
            image, content_type = NOT_AN_IMAGE_HTML.encode(), "text/html"
        elif output_format != "png" or transparent:
            colour = distinct_colour(len(self.produced))
            image = encoded(width, height, colour, output_format, transparent)
            content_type = f"image/{output_format}"
        else:
            colour = distinct_colour(len(self.produced))
            image, content_type = solid_png(width, height, colour), "image/png"
        self.produced.append(image)
        return image, content_type


def encoded(
    width: int, height: int, colour: tuple[int, int, int], output_format: str, transparent: bool
) -> bytes:
    """A solid image in `output_format` (png, jpeg, webp); `transparent`: its left half clear."""
    image = Image.new("RGBA" if transparent else "RGB", (width, height), colour)
    if transparent:
        image.paste((0, 0, 0, 0), (0, 0, width // 2, height))
    out = io.BytesIO()
    image.save(out, {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}[output_format])
    return out.getvalue()
