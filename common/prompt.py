"""Reading the user's idea: flags that steer imagegate are found and removed (SPEC §2.2)."""

import re
from typing import NamedTuple

_NO_ENHANCE = re.compile(r"(?<![\w-])no-enhance(?![\w-])", re.I)


class ParsedPrompt(NamedTuple):
    text: str  # what goes upstream (or to the enhancer)
    enhance: bool  # False when the user wrote `no-enhance`
    ratio: str | None = None
    notes: tuple[str, ...] = ()


def parse_prompt(raw: str) -> ParsedPrompt:
    text, flags = _NO_ENHANCE.subn(" ", raw)
    return ParsedPrompt(text=" ".join(text.split()), enhance=flags == 0)
