"""Scrub upstream text before anyone sees it: no key, URL, host, address, port or token survives."""

import ipaddress
import re
from collections.abc import Iterable

_URL = re.compile(r"\b(?:https?|wss?|redis|rediss|tcp|unix)://\S+", re.I)
_TOKEN = re.compile(r"\b(?:sk|pk|rk|key|tok|token|bearer)[-_][\w.\-]{4,}|\b[\w\-]{32,}\b", re.I)
# IPv4 with an optional port; a bracketed or bare IPv6 candidate (validated below); a dotted
# host name or localhost followed by a port.
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?(?![\w.])")
_IPV6 = re.compile(
    r"\[[0-9a-f:.%\w]+\](?::\d{1,5})?|(?<![\w:])[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}(?![\w:])", re.I
)
_HOST_PORT = re.compile(r"\b(?:localhost|[a-z0-9][\w-]*(?:\.[\w-]+)+):\d{1,5}\b", re.I)
_PORT_WORDS = re.compile(r"\bport\s+\d{1,5}\b", re.I)
MAX_MESSAGE = 300


def _ipv6(match: re.Match) -> str:
    text = match.group(0)
    candidate = text.partition("]")[0].lstrip("[").partition("%")[0] if "[" in text else text
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return text  # a time of day or a ratio, not an address
    return "[address]"


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every secret, URL, address, port and token-like word replaced, cut to a
    readable length."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, "[redacted]")
    text = _URL.sub("[url]", text)
    text = _IPV6.sub(_ipv6, _IPV4.sub("[address]", text))
    text = _PORT_WORDS.sub("port [redacted]", _HOST_PORT.sub("[address]", text))
    text = _TOKEN.sub("[redacted]", text)
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"
