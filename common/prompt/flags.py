"""Reading the user's idea: flags and ratios that steer imagegate are found and removed (SPEC §2.2)."""

import math
import re
import unicodedata
from typing import NamedTuple

from common.prompt.size_tables import RATIOS, closest_ratio, ratio_value

# Latin words must stand alone ("car 3:2" holds no trigger); CJK text has no spaces to wait for.
_ALONE = r"(?<![A-Za-z0-9_-])"
_NO_ENHANCE = re.compile(_ALONE + r"no-enhance(?![A-Za-z0-9_-])", re.I)
_VALUE = r"(\d+(?:\.\d+)?)\s*[:：]\s*(\d+(?:\.\d+)?)(?![\d.:：])"
_TRIGGERED = re.compile(
    r"(?:"
    + _ALONE
    + r"(?:aspect[\s_-]*ratio|aspect|ratio|--ar|ar)|比例(?:为|是)?)\s*[:：=]?\s*"
    + _VALUE,
    re.I,
)
# Without a trigger only a supported ratio ending the prompt counts, so "won 3:2 in the final"
# and "下午16:30" stay text.
_TRAILING = re.compile(r"(?<=[\s,，、;；])(\d+)[:：](\d+)$")
_JOINERS = ",，、;； "
_OPENERS, _CLOSERS = "(（[【", ")）]】"


class ParsedPrompt(NamedTuple):
    text: str  # what goes upstream (or to the enhancer)
    enhance: bool  # False when the user wrote `no-enhance`
    ratio: str | None = None
    notes: tuple[str, ...] = ()


def parse_prompt(raw: str) -> ParsedPrompt:
    text = " ".join(raw.split())
    skips = list(_NO_ENHANCE.finditer(text))
    text = _cut_all(text, skips)
    triggered = [m for m in _TRIGGERED.finditer(text) if _positive(m)]
    trailing = _TRAILING.search(text)
    if triggered:
        matches = triggered  # the last one wins; every one is removed
    elif trailing and _label(trailing) in RATIOS:
        matches = [trailing]
    else:
        return ParsedPrompt(text, enhance=not skips)
    ratio, note = ratio_of(*matches[-1].groups())
    return ParsedPrompt(
        _cut_all(text, matches), enhance=not skips, ratio=ratio, notes=(note,) if note else ()
    )


def ratio_of(width: str, height: str) -> tuple[str, str | None]:
    """The supported ratio for width:height, with a note when it had to snap to the nearest."""
    value = float(width) / float(height)
    exact = next((r for r in RATIOS if math.isclose(ratio_value(r), value, rel_tol=1e-6)), None)
    if exact:
        return exact, None
    nearest = closest_ratio(value)
    return (
        nearest,
        f"aspect ratio {width}:{height} is not supported; using the nearest one, {nearest}",
    )


def read_ratio(text: str) -> str | None:
    """A ratio written alone ('16:9', '16：9', '2.35:1'), as a supported one; None for anything else."""
    match = re.fullmatch(_VALUE, text.strip())
    return ratio_of(*match.groups())[0] if match and _positive(match) else None


def _positive(match: re.Match) -> bool:
    return all(float(side) > 0 for side in match.groups())


def _label(match: re.Match) -> str:
    return ":".join(str(int(side)) for side in match.groups())


def _cut_all(text: str, matches: list[re.Match]) -> str:
    for match in reversed(matches):  # from the end, so earlier offsets stay valid
        text = _cut(text, match.start(), match.end())
    return text


def _cut(text: str, start: int, end: int) -> str:
    """`text` without [start, end), tidying the commas and brackets the removal orphaned."""
    left, right = text[:start].rstrip(), text[end:].lstrip()
    if left[-1:] and left[-1] in _OPENERS and right[:1] and right[0] in _CLOSERS:
        left, right = left[:-1].rstrip(), right[1:].lstrip()
    if not right or right[0] in _JOINERS:
        left = left.rstrip(_JOINERS)
    if not left:
        right = right.lstrip(_JOINERS)
    if not left or not right:
        return left or right
    joined_tightly = right[0] in _JOINERS or (_wide(left[-1]) and _wide(right[0]))
    return left + ("" if joined_tightly else " ") + right


def _wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F")
