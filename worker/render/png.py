"""Minimal PNG encoder: enough to render placeholders and test images without Pillow."""

import struct
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png(width: int, height: int, rgb_rows: list[bytes]) -> bytes:
    """Encode 8-bit RGB rows (each `width * 3` bytes, top to bottom) as a PNG."""
    if len(rgb_rows) != height or any(len(row) != width * 3 for row in rgb_rows):
        raise ValueError("rows do not match the image size")
    raw = b"".join(b"\x00" + row for row in rgb_rows)  # filter type 0 on every row
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 6))
        + _chunk(b"IEND", b"")
    )


def solid_png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A PNG of one colour: distinct colours give distinct bytes, which tests compare."""
    row = bytes(rgb) * width
    return encode_png(width, height, [row] * height)
