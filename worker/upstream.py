"""Talking to upstreams: capped bodies, and every failure turned into one classified error.

UpstreamFailure      an upstream call did not give images; `reason` decides what failover does
  reason KEY         the key is refused (401, a key-level 403): bench it, try the next key
  reason QUOTA       the key's quota is spent: bench it for an hour, try the next key
  reason RATE        the key is rate limited: bench it for Retry-After (or 60 s), try the next
  reason UNAVAILABLE 5xx, connection error, challenge page, garbage: try the next key
  reason TIMEOUT     no answer after the request was sent: stop (it may still bill us)
  reason PROMPT      the prompt was refused (safety, policy): 400 to the client, never retried
  reason CONFIG      our configuration was refused (unknown model, bad field): 502
"""

import base64
import binascii
import contextlib
import enum
import re
from collections.abc import Iterator

import httpx

MAX_BODY = 20 * 1024 * 1024


class Reason(enum.Enum):
    KEY = "key rejected"
    QUOTA = "quota exhausted"
    RATE = "rate limited"
    UNAVAILABLE = "unavailable"
    TIMEOUT = "timed out"
    PROMPT = "prompt rejected"
    CONFIG = "configuration rejected"


class UpstreamFailure(Exception):
    def __init__(self, reason: Reason, message: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.status = status
        self.retry_after = retry_after


class BodyTooLarge(UpstreamFailure):
    def __init__(self) -> None:
        super().__init__(Reason.UNAVAILABLE, f"the upstream answer is larger than {MAX_BODY // 2**20} MB")


async def read_capped(response: httpx.Response, limit: int = MAX_BODY) -> bytes:
    """The body of a streamed response, refusing to hold more than `limit` bytes."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge()
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


@contextlib.contextmanager
def transport_errors() -> Iterator[None]:
    """Turn httpx's transport errors into UpstreamFailure: a read timeout is not a connect error."""
    try:
        yield
    except httpx.ReadTimeout as exc:
        raise UpstreamFailure(Reason.TIMEOUT, "the upstream did not answer in time") from exc
    except httpx.TimeoutException as exc:  # connect, write or pool timeout: nothing was made
        raise UpstreamFailure(Reason.UNAVAILABLE, "could not reach the upstream in time") from exc
    except (httpx.TransportError, OSError) as exc:
        raise UpstreamFailure(Reason.UNAVAILABLE, "could not connect to the upstream") from exc


def retry_after(headers: httpx.Headers) -> float | None:
    """Seconds from `retry-after-ms` or `retry-after` (seconds only; dates are rare upstream)."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name, "").strip()
        with contextlib.suppress(ValueError):
            return max(float(value) * scale, 0.0) if value else None
    return None


def is_html(body: bytes) -> bool:
    head = body[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<head" in head


_SAFETY = re.compile(r"safety|moderation|content.?policy|nsfw|sensitive|inappropriate", re.I)
_KEY_REFUSED = re.compile(r"api.?key|token|permission|not (authori[sz]ed|allowed)|access", re.I)
_REGION = re.compile(r"region|country|territory|location", re.I)


def classify(status: int, message: str, *, code: str | None = None, headers: httpx.Headers | None = None) -> UpstreamFailure:
    """The failure an error answer means, by status first; adapters refine it with `code`."""
    wait = retry_after(headers) if headers is not None else None
    code_text = (code or "").lower()
    if "quota" in code_text or "insufficient" in code_text:
        return UpstreamFailure(Reason.QUOTA, message, status=status)
    if status == 429:
        return UpstreamFailure(Reason.RATE, message, status=status, retry_after=wait)
    if status == 401:
        return UpstreamFailure(Reason.KEY, message, status=status)
    if status == 403 and _KEY_REFUSED.search(message) and not _REGION.search(message):
        return UpstreamFailure(Reason.KEY, message, status=status)
    if status in (400, 422) and (_SAFETY.search(code_text) or _SAFETY.search(message)):
        return UpstreamFailure(Reason.PROMPT, message, status=status)
    if status in (400, 404, 405, 413, 415, 422):
        return UpstreamFailure(Reason.CONFIG, message, status=status)
    return UpstreamFailure(Reason.UNAVAILABLE, message, status=status, retry_after=wait)


async def send(client: httpx.AsyncClient, method: str, url: str, **kwargs) -> tuple[httpx.Response, bytes]:
    """One upstream request; its body read in full, within MAX_BODY."""
    with transport_errors():
        async with client.stream(method, url, **kwargs) as response:
            return response, await read_capped(response)


def decode_base64(text: str) -> bytes:
    """Base64 image data, with or without a `data:image/...;base64,` prefix."""
    _, comma, payload = text.partition(",") if text.startswith("data:") else ("", "", text)
    try:
        return base64.b64decode(payload, validate=False)
    except (ValueError, binascii.Error) as exc:
        raise UpstreamFailure(Reason.UNAVAILABLE, "the upstream answered with broken base64 image data") from exc
