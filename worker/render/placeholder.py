"""Render the placeholder image: a gradient chosen by the seed with the request's text on it."""

import colorsys
import random
import textwrap

from worker.render.font import GLYPH_HEIGHT, GLYPH_WIDTH, glyph_runs
from worker.render.png import encode_png

RGB = tuple[int, int, int]

# A glyph cell keeps one blank column and one blank row between neighbouring glyphs.
_CELL_W = GLYPH_WIDTH + 1
_CELL_H = GLYPH_HEIGHT + 1
# Each font pixel grows by one image pixel per this many pixels of the shorter side...
_PIXELS_PER_SCALE = 100
# ...but never so far that a line holds fewer characters than this, or every prompt would wrap.
_MIN_COLUMNS = 24


def render_placeholder(
    width: int, height: int, lines: list[str], seed: int, background: list[bytes] | None = None
) -> bytes:
    """A `width` x `height` PNG: a gradient picked by `seed`, with `lines` centred on it.

    `background` (RGB rows of that size: an edit's input image) replaces the gradient."""
    if width < 1 or height < 1:
        raise ValueError("placeholder size must be positive")
    top, bottom, ink = _palette(seed)
    rows = list(background) if background is not None else _gradient(width, height, top, bottom)
    scale, text = _layout(width, height, lines)
    _draw_text(rows, width, height, text, scale, ink)
    return encode_png(width, height, rows)


def _palette(seed: int) -> tuple[RGB, RGB, RGB]:
    """Gradient top, gradient bottom and ink colours, all derived from `seed` alone."""
    rng = random.Random(seed)
    hue = rng.random()
    hue_shift = rng.uniform(0.08, 0.3) * rng.choice((-1, 1))
    saturation = rng.uniform(0.45, 0.75)
    # Both ends stay in one lightness band so a single ink colour contrasts with all of it.
    if rng.random() < 0.5:
        low, high, ink = 0.2, 0.34, _hls(hue, 0.95, 0.3)
    else:
        low, high, ink = 0.70, 0.84, _hls(hue, 0.14, 0.5)
    return _hls(hue, high, saturation), _hls(hue + hue_shift, low, saturation), ink


def _hls(hue: float, lightness: float, saturation: float) -> RGB:
    r, g, b = colorsys.hls_to_rgb(hue % 1.0, lightness, saturation)
    return round(r * 255), round(g * 255), round(b * 255)


def _gradient(width: int, height: int, top: RGB, bottom: RGB) -> list[bytes]:
    """One row per line of the image; rows of the same colour share one bytes object."""
    span = max(height - 1, 1)
    by_colour: dict[bytes, bytes] = {}
    rows = []
    for y in range(height):
        colour = bytes(a + (b - a) * y // span for a, b in zip(top, bottom, strict=False))
        row = by_colour.get(colour)
        if row is None:
            row = by_colour[colour] = colour * width
        rows.append(row)
    return rows


def _layout(width: int, height: int, lines: list[str]) -> tuple[int, list[str]]:
    """The largest glyph scale (up to one set by the image size) at which the wrapped text fits.

    At scale 1 whatever still does not fit is cut off, so the text never leaves the image.
    """
    margin = max(1, min(width, height) // 20)
    room_w, room_h = width - 2 * margin, height - 2 * margin
    wanted = min(min(width, height) // _PIXELS_PER_SCALE, room_w // (_CELL_W * _MIN_COLUMNS))
    scale = max(1, wanted)
    while True:
        # The last column and row of a cell are spacing, so the block may end on them.
        columns = (room_w + scale) // (_CELL_W * scale)
        rows = (room_h + scale) // (_CELL_H * scale)
        if columns < 1 or rows < 1:
            return scale, []
        wrapped = [part for line in lines for part in textwrap.wrap(line, columns) or [""]]
        if len(wrapped) <= rows or scale == 1:
            return scale, wrapped[:rows]
        scale -= 1


def _draw_text(
    rows: list[bytes], width: int, height: int, text: list[str], scale: int, ink: RGB
) -> None:
    """Overwrite, in place, the rows that `text` crosses, centred as a block and line by line."""
    block_top = (height - (len(text) * _CELL_H * scale - scale)) // 2
    for index, line in enumerate(text):
        left = (width - (len(line) * _CELL_W * scale - scale)) // 2
        glyphs = [glyph_runs(char) for char in line]
        for glyph_row in range(GLYPH_HEIGHT):
            # Byte offsets and fill of every inked run on this glyph row, reused for `scale` rows.
            fills = [
                (
                    (left + (i * _CELL_W + start) * scale) * 3,
                    (left + (i * _CELL_W + end) * scale) * 3,
                    bytes(ink) * ((end - start) * scale),
                )
                for i, glyph in enumerate(glyphs)
                for start, end in glyph[glyph_row]
            ]
            if not fills:
                continue
            y0 = block_top + (index * _CELL_H + glyph_row) * scale
            for y in range(y0, y0 + scale):
                row = bytearray(rows[y])
                for begin, end, fill in fills:
                    row[begin:end] = fill
                rows[y] = bytes(row)
