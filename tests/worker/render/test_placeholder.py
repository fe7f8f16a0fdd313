"""render_placeholder: exact size, seeded colours, deterministic, text kept inside the image."""

import struct
import zlib

import pytest

from worker.render.placeholder import render_placeholder
from worker.upstream.sniff import sniff

LINES = ["imagegate placeholder", "a cat reading a book", "1024x576 seed 42"]
SIZES = [(64, 64), (1024, 576), (576, 1024), (2048, 880), (2048, 2048), (2048, 512)]


def _pixel_rows(png: bytes) -> list[list[bytes]]:
    """Decode the PNGs encode_png writes (8-bit RGB, filter 0 on every row) into rows of pixels."""
    width, height = struct.unpack_from(">II", png, 16)
    idat, pos = b"", 8
    while pos < len(png):
        (length,) = struct.unpack_from(">I", png, pos)
        if png[pos + 4 : pos + 8] == b"IDAT":
            idat += png[pos + 8 : pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = 1 + width * 3
    assert len(raw) == stride * height
    rows = []
    for y in range(height):
        line = raw[y * stride : (y + 1) * stride]
        assert line[0] == 0
        rows.append([line[x : x + 3] for x in range(1, stride, 3)])
    return rows


def _text_rows(rows: list[list[bytes]]) -> list[int]:
    """Rows holding a pixel unlike the row's left edge, which is always bare gradient."""
    return [y for y, row in enumerate(rows) if any(pixel != row[0] for pixel in row)]


@pytest.mark.parametrize(("width", "height"), SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_output_is_a_png_of_the_asked_size(width, height):
    info = sniff(render_placeholder(width, height, LINES, 42))
    assert (info.content_type, info.width, info.height) == ("image/png", width, height)


def test_different_seeds_give_different_images():
    images = {render_placeholder(256, 256, LINES, seed) for seed in range(8)}
    assert len(images) == 8


def test_same_inputs_give_identical_bytes():
    assert render_placeholder(1024, 576, LINES, 7) == render_placeholder(1024, 576, LINES, 7)


def test_text_is_drawn_across_the_middle_band():
    rows = _pixel_rows(render_placeholder(1024, 576, LINES, 42))
    middle = range(576 * 2 // 5, 576 * 3 // 5)
    assert any(y in middle for y in _text_rows(rows))


def test_gradient_runs_from_one_colour_to_another():
    rows = _pixel_rows(render_placeholder(64, 256, [], 3))
    assert rows[0][0] != rows[-1][0]
    assert not _text_rows(rows)


@pytest.mark.parametrize(("width", "height"), [(64, 64), (2048, 512), (512, 2048), (16, 300)])
def test_long_text_stays_inside_the_image(width, height):
    lines = LINES + ["a " + "very " * 60 + "long prompt", "x" * 500]
    rows = _pixel_rows(render_placeholder(width, height, lines, 5))
    text_rows = _text_rows(rows)
    assert text_rows
    # Nothing touches the border: first and last rows and the right edge stay bare gradient.
    assert 0 not in text_rows and height - 1 not in text_rows
    assert all(row[-1] == row[0] for row in rows)


def test_non_ascii_text_is_drawn_without_error():
    rows = _pixel_rows(render_placeholder(512, 512, ["一只猫在读书", "café 🐱", "\t\x00\x7f"], 1))
    assert _text_rows(rows)


def test_rejects_an_empty_size():
    with pytest.raises(ValueError):
        render_placeholder(0, 64, LINES, 1)
