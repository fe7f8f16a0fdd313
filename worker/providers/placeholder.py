"""A local stand-in upstream: labelled PNGs rendered in-process, so imagegate works with no keys.

An edit draws the label over its first input image, so the whole edit path works offline."""

import asyncio
import io

from PIL import Image

from worker.providers.base import Upstream, UpstreamRequest
from worker.render.placeholder import render_placeholder


def _rows(data: bytes, width: int | None, height: int | None) -> tuple[int, int, list[bytes]]:
    """The input image as RGB rows, resized to the size asked for (else its own)."""
    with Image.open(io.BytesIO(data)) as image:
        rgb = image.convert("RGB")
    if width and height and rgb.size != (width, height):
        rgb = rgb.resize((width, height))
    width, height = rgb.size
    raw = rgb.tobytes()
    return width, height, [raw[y * width * 3 : (y + 1) * width * 3] for y in range(height)]


def _render(request: UpstreamRequest, index: int) -> bytes:
    width, height, background = request.width or 1024, request.height or 1024, None
    label = "imagegate placeholder"
    if request.images:
        width, height, background = _rows(request.images[0], request.width, request.height)
        label = f"imagegate placeholder edit of {len(request.images)} image(s)"
    seed = (request.seed or 0) + index
    lines = [label, request.prompt, f"{width}x{height}  seed {seed}"]
    return render_placeholder(width, height, lines, seed, background)


async def generate(upstream: Upstream, request: UpstreamRequest) -> list[bytes]:
    # Rendering a large PNG takes tens of milliseconds of CPU: keep the event loop free.
    return await asyncio.gather(*(asyncio.to_thread(_render, request, i) for i in range(request.n)))
