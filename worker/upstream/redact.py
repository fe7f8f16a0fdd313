"""Scrub upstream text before anyone sees it: no key, URL, host or token survives."""

import re
from collections.abc import Iterable

_URL = re.compile(r"\b(?:https?|wss?|redis|rediss)://\S+", re.I)
_TOKEN = re.compile(r"\b(?:sk|pk|rk|key|tok|token|bearer)[-_][\w.\-]{4,}|\b[\w\-]{32,}\b", re.I)
MAX_MESSAGE = 300


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every secret, URL and token-like word replaced, cut to a readable length."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, "[redacted]")
    text = _TOKEN.sub("[redacted]", _URL.sub("[url]", text))
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"
