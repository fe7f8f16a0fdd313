"""Aspect ratios and the pixel sizes each model family uses for them."""

import math

Size = tuple[int, int]

RATIOS = ("1:1", "1:2", "2:1", "3:2", "2:3", "3:4", "4:3", "16:9", "9:16", "21:9")

DEFAULT_TABLE: dict[str, Size] = {
    "1:1": (1024, 1024),
    "1:2": (512, 1024),
    "2:1": (1024, 512),
    "3:2": (768, 512),
    "2:3": (512, 768),
    "3:4": (768, 1024),
    "4:3": (1024, 768),
    "16:9": (1024, 576),
    "9:16": (576, 1024),
    "21:9": (1344, 576),
}

ZIMAGE_TABLE: dict[str, Size] = {
    "1:1": (2048, 2048),
    "1:2": (1024, 2048),
    "2:1": (2048, 1024),
    "3:2": (1920, 1280),
    "2:3": (1280, 1920),
    "3:4": (1536, 2048),
    "4:3": (2048, 1536),
    "16:9": (2048, 1152),
    "9:16": (1152, 2048),
    "21:9": (2048, 880),
}

TABLES = {"default": DEFAULT_TABLE, "zimage": ZIMAGE_TABLE}


def ratio_value(ratio: str) -> float:
    width, height = ratio.split(":")
    return int(width) / int(height)


def closest_ratio(value: float) -> str:
    """The supported ratio nearest to `value` (compared on a log scale, so 2:1 and 1:2 are symmetric)."""
    return min(RATIOS, key=lambda ratio: abs(math.log(ratio_value(ratio) / value)))


def closest_size(sizes: tuple[Size, ...], width: int, height: int) -> Size:
    """The allowed size whose aspect is nearest to width×height; ties go to the larger image."""
    aspect = width / height
    return min(
        sizes, key=lambda size: (abs(math.log(size[0] / size[1] / aspect)), -size[0] * size[1])
    )


def parse_size(text: str) -> Size | None:
    """'1024x768' (or '1024×768', '1024*768') → (1024, 768); anything else → None."""
    for separator in ("x", "X", "×", "*"):
        width, found, height = text.strip().partition(separator)
        if found and width.strip().isdigit() and height.strip().isdigit():
            return int(width), int(height)
    return None
