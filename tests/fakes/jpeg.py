"""Minimal baseline JPEG encoder: a solid grey image any decoder reads, without Pillow.

One component, quantisation all ones, every 8x8 block the same DC value and no AC energy:
the first block codes the DC difference, every later block codes 0 and end-of-block.
"""

import struct

# The standard luminance DC table (JPEG Annex K.3): code lengths, then symbols (categories).
_DC_COUNTS = bytes([0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0])
_DC_SYMBOLS = bytes(range(12))
_DC_CODES = [
    "00",
    "010",
    "011",
    "100",
    "101",
    "110",
    "1110",
    "11110",
    "111110",
    "1111110",
    "11111110",
    "111111110",
]
# An AC table with one symbol, end-of-block, coded "00" (a code of all ones is not allowed).
_AC_COUNTS = bytes([0, 1] + [0] * 14)
_EOB = "00"


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def _amplitude(value: int) -> str:
    """The DC difference's category code and its magnitude bits (ones' complement when negative)."""
    if value == 0:
        return _DC_CODES[0]
    category = abs(value).bit_length()
    bits = value if value > 0 else value + (1 << category) - 1
    return _DC_CODES[category] + format(bits, f"0{category}b")


def _entropy(width: int, height: int, grey: int) -> bytes:
    blocks = ((width + 7) // 8) * ((height + 7) // 8)
    # With every quantiser 1, the DC coefficient of a flat block is 8 × (level − 128).
    bits = _amplitude(8 * (grey - 128)) + _EOB + (_DC_CODES[0] + _EOB) * (blocks - 1)
    bits += "1" * (-len(bits) % 8)  # pad the last byte with ones
    data = int(bits, 2).to_bytes(len(bits) // 8, "big")
    return data.replace(b"\xff", b"\xff\x00")  # byte stuffing


def solid_jpeg(width: int, height: int, grey: int) -> bytes:
    return b"".join(
        (
            b"\xff\xd8",
            _segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"),
            _segment(0xDB, b"\x00" + bytes([1] * 64)),
            _segment(0xC0, struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00"),
            _segment(0xC4, b"\x00" + _DC_COUNTS + _DC_SYMBOLS),
            _segment(0xC4, b"\x10" + _AC_COUNTS + b"\x00"),
            _segment(0xDA, b"\x01\x01\x00\x00\x3f\x00"),
            _entropy(width, height, grey),
            b"\xff\xd9",
        )
    )
