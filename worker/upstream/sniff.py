"""Recognise PNG, JPEG, WebP and GIF images by magic bytes and read their size from the header."""

import struct

from common.schemas import ImageInfo
from worker.render.png import PNG_SIGNATURE

# SOF markers carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers without a length field: TEM and the restart markers RST0-7.
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
_JPEG_SOS, _JPEG_EOI = 0xDA, 0xD9


def sniff(data: bytes) -> ImageInfo | None:
    """Identify `data` from its bytes alone; None unless it opens with a well-formed header."""
    if data.startswith(PNG_SIGNATURE):
        size = _png_size(data)
        kind = ("image/png", "png")
    elif data.startswith(b"\xff\xd8\xff"):
        size = _jpeg_size(data)
        kind = ("image/jpeg", "jpg")
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        size = _webp_size(data)
        kind = ("image/webp", "webp")
    elif data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        size = struct.unpack_from("<HH", data, 6)
        kind = ("image/gif", "gif")
    else:
        return None
    if size is None or size[0] == 0 or size[1] == 0:
        return None
    return ImageInfo(content_type=kind[0], extension=kind[1], width=size[0], height=size[1])


def _png_size(data: bytes) -> tuple[int, int] | None:
    # The PNG spec requires IHDR, 13 bytes long, as the very first chunk.
    if len(data) < 29 or data[8:16] != b"\x00\x00\x00\x0dIHDR":
        return None
    return struct.unpack_from(">II", data, 16)


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    pos, end = 2, len(data)
    while pos < end:
        if data[pos] != 0xFF:
            return None
        while pos < end and data[pos] == 0xFF:  # any number of fill bytes may precede a marker
            pos += 1
        if pos >= end:
            return None
        marker = data[pos]
        pos += 1
        if marker in _JPEG_STANDALONE:
            continue
        if marker in (_JPEG_SOS, _JPEG_EOI) or pos + 2 > end:
            return None  # entropy-coded data or the end came before any frame header
        (length,) = struct.unpack_from(">H", data, pos)
        if length < 2:
            return None
        if marker in _JPEG_SOF:
            if pos + 7 > end:
                return None
            height, width = struct.unpack_from(">HH", data, pos + 3)  # after length and precision
            return width, height
        pos += length
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 " and len(data) >= 30 and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack_from("<HH", data, 26)
        return width & 0x3FFF, height & 0x3FFF  # the top two bits are the upscaling hint
    if chunk == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
        (bits,) = struct.unpack_from("<I", data, 21)
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(data) >= 30:
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    return None
