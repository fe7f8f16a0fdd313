"""Masks in the convention of the upstream: OpenAI's (alpha 0 = repaint) to white = repaint."""

import io

from PIL import Image


def white_repaint(openai_mask: bytes) -> bytes:
    """A greyscale PNG, white where the OpenAI mask is fully transparent (repaint), else black.

    A mask without transparency (already black and white) keeps its own light and dark."""
    with Image.open(io.BytesIO(openai_mask)) as image:
        if image.mode in ("RGBA", "LA") or "transparency" in image.info:
            alpha = image.convert("RGBA").getchannel("A")
            converted = alpha.point(lambda value: 255 if value == 0 else 0)
        else:
            converted = image.convert("L")
    out = io.BytesIO()
    converted.save(out, "PNG")
    return out.getvalue()
