"""sniff: each image kind recognised from hand-built headers, and lookalikes refused."""

import struct

import pytest

from worker.render.png import solid_png
from worker.upstream.sniff import ImageInfo, sniff


def _segment(marker: int, payload: bytes) -> bytes:
    """A JPEG marker segment; its length field counts itself but not the marker."""
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


SOI = b"\xff\xd8"
APP0 = _segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
DQT = _segment(0xDB, b"\x00" + bytes(range(1, 65)))
# DHT (C4) sits in the SOF range of marker numbers but carries no frame size.
DHT = _segment(0xC4, b"\x00" + bytes(16) + b"\x00")
SOS = _segment(0xDA, b"\x01\x01\x00\x00\x3f\x00") + b"\x12\x34\x56"


def _sof(marker: int, width: int, height: int) -> bytes:
    components = b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    return _segment(marker, struct.pack(">BHHB", 8, height, width, 3) + components)


def _riff(chunk: bytes, payload: bytes) -> bytes:
    body = b"WEBP" + chunk + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _vp8(width: int, height: int) -> bytes:
    # Frame tag of a key frame, then the start code, then 14-bit sizes whose top bits scale.
    frame = b"\x50\x02\x00" + b"\x9d\x01\x2a" + struct.pack("<HH", width, height) + bytes(8)
    return _riff(b"VP8 ", frame)


def _vp8l(width: int, height: int) -> bytes:
    bits = (width - 1) | (height - 1) << 14 | 1 << 28  # alpha hint set, version 0
    return _riff(b"VP8L", b"\x2f" + struct.pack("<I", bits) + bytes(4))


def _vp8x(width: int, height: int) -> bytes:
    sizes = (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    return _riff(b"VP8X", b"\x10\x00\x00\x00" + sizes)


def _gif(version: bytes, width: int, height: int) -> bytes:
    return version + struct.pack("<HHBBB", width, height, 0xF7, 0, 0) + bytes(6) + b";"


BASELINE = SOI + APP0 + DQT + _sof(0xC0, 640, 480) + DHT + SOS + b"\xff\xd9"
PROGRESSIVE = SOI + APP0 + DQT + DHT + _sof(0xC2, 1024, 576)

RECOGNISED = {
    "png": (solid_png(37, 19, (1, 2, 3)), "image/png", "png", 37, 19),
    "jpeg_baseline": (BASELINE, "image/jpeg", "jpg", 640, 480),
    "jpeg_progressive": (PROGRESSIVE, "image/jpeg", "jpg", 1024, 576),
    "jpeg_fill_bytes": (SOI + APP0 + b"\xff\xff" + _sof(0xC1, 3, 5), "image/jpeg", "jpg", 3, 5),
    "jpeg_standalone_marker": (SOI + b"\xff\x01" + _sof(0xCF, 9, 7), "image/jpeg", "jpg", 9, 7),
    "webp_lossy": (_vp8(400, 301), "image/webp", "webp", 400, 301),
    "webp_lossy_scaled": (_vp8(400 | 1 << 14, 301 | 3 << 14), "image/webp", "webp", 400, 301),
    "webp_lossless": (_vp8l(16384, 1), "image/webp", "webp", 16384, 1),
    "webp_extended": (_vp8x(5000, 2048), "image/webp", "webp", 5000, 2048),
    "gif87a": (_gif(b"GIF87a", 320, 200), "image/gif", "gif", 320, 200),
    "gif89a": (_gif(b"GIF89a", 1, 65535), "image/gif", "gif", 1, 65535),
}

REFUSED = {
    "empty": b"",
    "html": b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head></html>",
    "svg": b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>',
    "json": b'{"error": {"message": "rate limited"}}',
    "png_truncated": solid_png(37, 19, (1, 2, 3))[:20],
    "png_signature_only": b"\x89PNG\r\n\x1a\n",
    "png_without_ihdr": b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x0dtEXt" + bytes(17),
    "png_zero_width": solid_png(1, 1, (0, 0, 0))[:16] + struct.pack(">II", 0, 1) + bytes(9),
    "jpeg_without_sof": SOI + APP0 + DQT + DHT + SOS + b"\xff\xd9",
    "jpeg_only_eoi": SOI + b"\xff\xd9",
    "jpeg_truncated_segment": SOI + APP0 + DQT[:30],
    "jpeg_truncated_sof": SOI + APP0 + _sof(0xC0, 640, 480)[:6],
    "jpeg_zero_height": SOI + APP0 + _sof(0xC0, 640, 0),
    "jpeg_garbage_after_soi": SOI + b"\xff\xe0\x00\x10JFIF" + b"\x00" * 10 + b"garbage",
    "riff_wave": b"RIFF" + struct.pack("<I", 36) + b"WAVEfmt " + bytes(28),
    "webp_unknown_chunk": _riff(b"ALPH", bytes(16)),
    "webp_vp8_bad_start_code": _vp8(10, 10).replace(b"\x9d\x01\x2a", b"\x00\x00\x00"),
    "webp_vp8l_bad_signature": _vp8l(10, 10)[:20] + b"\x00" + _vp8l(10, 10)[21:],
    "webp_vp8x_truncated": _vp8x(10, 10)[:27],
    "gif_truncated": b"GIF89a\x01",
    "gif_zero_width": _gif(b"GIF89a", 0, 10),
    "gif_unknown_version": _gif(b"GIF88a", 10, 10),
}


@pytest.mark.parametrize(
    ("data", "content_type", "extension", "width", "height"),
    RECOGNISED.values(),
    ids=RECOGNISED.keys(),
)
def test_sniff_reads_kind_and_size(data, content_type, extension, width, height):
    assert sniff(data) == ImageInfo(content_type, extension, width, height)


@pytest.mark.parametrize("data", REFUSED.values(), ids=REFUSED.keys())
def test_sniff_refuses_what_is_not_a_well_formed_image(data):
    assert sniff(data) is None


def test_sniff_needs_only_the_header():
    # Uploads may be sniffed from their first bytes, before the rest has arrived.
    header_only = BASELINE[: BASELINE.index(b"\xff\xc4")]
    assert sniff(header_only) == ImageInfo("image/jpeg", "jpg", 640, 480)
