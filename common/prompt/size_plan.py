"""Choosing a generation's pixel size: request size > prompt ratio > LLM ratio > 1:1 (SPEC §2.2.3)."""

from math import gcd
from typing import NamedTuple

from common.config.types import ModelSpec
from common.errors import InvalidRequest
from common.prompt.size_tables import RATIOS, closest_size, ratio_value

MAX_SIDE = 4096


class SizePlan(NamedTuple):
    width: int | None  # None: the model decides
    height: int | None
    ratio: str | None
    notes: tuple[str, ...] = ()


def check_size(model: ModelSpec, width: int, height: int, param: str) -> None:
    """400 for a size no model could take, before anything is enqueued."""
    for side in (width, height):
        if side % 8 or not 8 <= side <= MAX_SIDE:
            raise InvalidRequest(
                f"each side must be a multiple of 8 between 8 and {MAX_SIDE}; got {width}x{height}",
                param=param,
                code="unsupported_size",
            )
    if model.fixed_sizes:
        return  # snapped to the closest allowed size later, and the answer says so
    low, high = model.min_side, model.max_side
    if not all(low <= side <= high for side in (width, height)):
        raise InvalidRequest(
            f"{model.name} takes sides from {low} to {high} px; got {width}x{height}",
            param=param,
            code="unsupported_size",
        )


def plan_size(
    model: ModelSpec,
    width: int | None,
    height: int | None,
    ratio: str | None,
    suggested: str | None = None,
) -> SizePlan:
    """`ratio` is the user's (its loss is noted when the model decides); `suggested` the LLM's."""
    if model.decides_size:
        asked = f"{width}x{height}" if width and height else ratio
        notes = (f"{model.name} chooses its own size: {asked} was not honoured",) if asked else ()
        return SizePlan(None, None, None, notes)
    if width and height:
        target, label = (width, height), None
    else:
        label = next((r for r in (ratio, suggested) if r in model.table), "1:1")
        target = model.table[label]
    if model.fixed_sizes and target not in model.fixed_sizes:
        snapped = closest_size(model.fixed_sizes, *target)
        note = f"{model.name} only makes {', '.join(f'{w}x{h}' for w, h in model.fixed_sizes)}: using {snapped[0]}x{snapped[1]}"
        return SizePlan(*snapped, label, (note,))
    return SizePlan(*target, label)


def describe_ratio(width: int, height: int) -> str:
    """'16:9' for 1024x576; the nearest simple ratio for sizes that match none exactly."""
    exact = [r for r in RATIOS if abs(ratio_value(r) - width / height) < 0.01]
    if exact:
        return exact[0]
    divisor = gcd(width, height)
    return f"{width // divisor}:{height // divisor}"
