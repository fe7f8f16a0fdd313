"""User and LLM text made inert for Markdown renderers: it can never form a link, an image or HTML."""

import re

# Every character that can open a link, an image, HTML, code, a heading, a quote or a table.
# Escaping parentheses too keeps `](` out of the text, so a regex such as
# /!\[.*?\]\((https?:[^)]+)\)/ still finds our image URL and never one from the prompt.
_SPECIAL = re.compile(r"([\\`*_\[\]()<>!|#~])")
# Chat apps auto-link bare URLs and e-mail addresses: a zero-width space breaks the pattern.
_AUTOLINK = re.compile(r"(?<=:)(?=//)|(?<=www)(?=\.)|(?<=\w@)(?=\w)", re.I)
_ZERO_WIDTH_SPACE = "\u200b"
# NUL and the other C0/C1 controls but tab and line breaks, and the bidi controls (embeddings,
# overrides, isolates, marks) that can make a prompt shown back read other than it is.
_CONTROLS = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def strip_controls(text: str) -> str:
    """`text` without NUL, control or bidi control characters."""
    return _CONTROLS.sub("", text)


def neutralise(text: str) -> str:
    """`text` on one line, inert."""
    return neutralise_block(" ".join(text.split()))


def neutralise_block(text: str) -> str:
    """`text` inert, line breaks kept (for streamed reasoning). Character by character, so
    pieces of a stream can be escaped one by one."""
    return _AUTOLINK.sub(_ZERO_WIDTH_SPACE, _SPECIAL.sub(r"\\\1", strip_controls(text)))
