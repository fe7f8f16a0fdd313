"""Choosing a generation's pixel size: request size > prompt ratio > LLM ratio > 1:1 (SPEC §2.2.3)."""

from math import gcd
from typing import NamedTuple

from common.config.types import ModelSpec
from common.errors import InvalidRequest
from common.limits import MAX_SIDE, SIDE_STEP
from common.prompt.size_tables import RATIOS, Size, closest_size, ratio_value


class SizePlan(NamedTuple):
    width: int | None  # None: the model decides
    height: int | None
    ratio: str | None
    notes: tuple[str, ...] = ()


def check_size(width: int, height: int, param: str) -> None:
    """400 for a size no model could take, before anything is enqueued. A size within these
    limits that the model does not take is met with the closest one it does (`plan_size`)."""
    for side in (width, height):
        if side % SIDE_STEP or not SIDE_STEP <= side <= MAX_SIDE:
            raise InvalidRequest(
                f"each side must be a multiple of {SIDE_STEP} between {SIDE_STEP} and {MAX_SIDE};"
                f" got {width}x{height}",
                param=param,
                code="unsupported_size",
            )


def fit_sides(model: ModelSpec, width: int, height: int) -> Size:
    """width×height scaled, keeping its aspect, until both sides are within the model's
    bounds (an aspect too extreme for them is clamped), in multiples of 8."""
    low, high = model.min_side, model.max_side
    scale = min(1.0, high / max(width, height))
    scale = max(scale, low / min(width, height))
    return tuple(  # type: ignore[return-value]
        min(max(round(side * scale / SIDE_STEP) * SIDE_STEP, low), high) for side in (width, height)
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
        lost = (f"{model.name} chooses its own size: {asked} was not honoured",) if asked else ()
        return SizePlan(None, None, None, lost)
    notes: tuple[str, ...] = ()
    if width and height:
        target, label = (width, height), None
        if not model.fixed_sizes and (fitted := fit_sides(model, width, height)) != target:
            notes = (
                f"{model.name} takes sides from {model.min_side} to {model.max_side} px:"
                f" using {fitted[0]}x{fitted[1]} for {width}x{height}",
            )
            target = fitted
    else:
        label = next((r for r in (ratio, suggested) if r in model.table), "1:1")
        target = model.table[label]
    if model.fixed_sizes and target not in model.fixed_sizes:
        snapped = closest_size(model.fixed_sizes, *target)
        note = f"{model.name} only makes {', '.join(f'{w}x{h}' for w, h in model.fixed_sizes)}: using {snapped[0]}x{snapped[1]}"
        return SizePlan(*snapped, label, (note,))
    return SizePlan(*target, label, notes)


def describe_ratio(width: int, height: int) -> str:
    """'16:9' for 1024x576; the nearest simple ratio for sizes that match none exactly."""
    exact = [r for r in RATIOS if abs(ratio_value(r) - width / height) < 0.01]
    if exact:
        return exact[0]
    divisor = gcd(width, height)
    return f"{width // divisor}:{height // divisor}"
