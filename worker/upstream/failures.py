"""Every way an upstream call can fail, turned into one classified error.

UpstreamFailure      an upstream call did not give images; `reason` decides what failover does
  reason KEY         the key is refused (401, a key-level 403): bench it, try the next key
  reason QUOTA       the key's quota is spent: bench it for an hour, try the next key
  reason RATE        the key is rate limited: bench it for Retry-After (or 60 s), try the next
  reason UNAVAILABLE 5xx, connection error, garbage: try the next key
  reason BLOCKED     the provider turned us away whatever the key (bot challenge page, region
                     block): stop, bench nothing, since every key would meet the same wall
  reason UNUSABLE    the answer cannot be used (too large, not an image, an image URL we refuse):
                     stop, since another key would be billed for the same answer
  reason TIMEOUT     no answer after the request was sent: stop (it may still bill us)
  reason PROMPT      the prompt was refused (safety, policy): 400 to the client, never retried
  reason CONFIG      our configuration was refused (unknown model, bad field): 502
"""

import contextlib
import enum
import json
import re
from collections.abc import Iterator, Mapping

import httpx


class Reason(enum.Enum):
    KEY = "key rejected"
    QUOTA = "quota exhausted"
    RATE = "rate limited"
    UNAVAILABLE = "unavailable"
    BLOCKED = "blocked by the provider"
    UNUSABLE = "unusable answer"
    TIMEOUT = "timed out"
    PROMPT = "prompt rejected"
    CONFIG = "configuration rejected"


class UpstreamFailure(Exception):
    def __init__(
        self,
        reason: Reason,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.status = status
        self.retry_after = retry_after


@contextlib.contextmanager
def transport_errors() -> Iterator[None]:
    """Turn httpx's transport errors into UpstreamFailure: a read timeout is not a connect error."""
    try:
        yield
    except httpx.ReadTimeout as exc:
        raise UpstreamFailure(Reason.TIMEOUT, "the upstream did not answer in time") from exc
    except httpx.TimeoutException as exc:  # connect, write or pool timeout: nothing was made
        # httpx-aiohttp reports any failed connect as a ConnectTimeout, a refusal included.
        if _caused_by(exc, ConnectionRefusedError):
            raise UpstreamFailure(
                Reason.UNAVAILABLE, "the upstream refused the connection"
            ) from exc
        raise UpstreamFailure(Reason.UNAVAILABLE, "could not reach the upstream in time") from exc
    except (httpx.TransportError, OSError) as exc:
        raise UpstreamFailure(Reason.UNAVAILABLE, "could not connect to the upstream") from exc


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: BaseException | None = exc
    for _ in range(10):  # a cause chain is short; a cycle must not loop
        if seen is None:
            return False
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def retry_after(headers: httpx.Headers) -> float | None:
    """Seconds from `retry-after-ms` or `retry-after` (seconds only; dates are rare upstream)."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name, "").strip()
        with contextlib.suppress(ValueError):
            if value:
                return max(float(value) * scale, 0.0)
    return None


def is_html(body: bytes) -> bool:
    head = body[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<head" in head


_SAFETY = re.compile(
    r"safety|moderation|content.?policy|nsfw|sensitive|inappropriate|prohibited|违规|敏感", re.I
)
# Words of a spent quota or balance, not of a per-minute limit ("quota exceeded per minute" is a rate).
_QUOTA = re.compile(
    r"insufficient.?(quota|balance|funds|credits?|points)|billing|daily free allocation|余额不足|积分不足|额度不足",
    re.I,
)
_RATE = re.compile(r"rate.?limit|too many requests|请求过于频繁", re.I)
_KEY_REFUSED = re.compile(r"api.?key|token|unauthori[sz]ed|authenticat|密钥|令牌", re.I)
_REGION = re.compile(r"region|country|territory|location", re.I)
_CONFIG_STATUSES = (400, 404, 405, 413, 415, 422)


def classify(
    status: int, message: str, *, code: str | None = None, headers: httpx.Headers | None = None
) -> UpstreamFailure:
    """The failure an error answer means, from its HTTP status, the upstream's code and message.

    Status 200 stands for an error inside a successful answer (exacg's `success: false`):
    only its words say what went wrong."""
    wait = retry_after(headers) if headers is not None else None
    text = f"{code or ''} {message}"
    if status < 500 and (status == 402 or _QUOTA.search(text)):
        return UpstreamFailure(Reason.QUOTA, message, status=status)
    if status == 429 or (status == 200 and _RATE.search(text)):
        return UpstreamFailure(Reason.RATE, message, status=status, retry_after=wait)
    if status == 401 or (status == 200 and _KEY_REFUSED.search(text)):
        return UpstreamFailure(Reason.KEY, message, status=status)
    if status in (200, 400, 422, 451) and _SAFETY.search(text):
        return UpstreamFailure(Reason.PROMPT, message, status=status)
    if status in (403, 451):
        # A region block refuses every key alike; any other 403 with an API error body is the key's.
        return UpstreamFailure(
            Reason.BLOCKED if _REGION.search(text) or status == 451 else Reason.KEY,
            message,
            status=status,
        )
    if status in _CONFIG_STATUSES:
        return UpstreamFailure(Reason.CONFIG, message, status=status)
    return UpstreamFailure(Reason.UNAVAILABLE, message, status=status, retry_after=wait)


def answer_failure(
    status: int,
    body: bytes,
    headers: httpx.Headers | None = None,
    *,
    meaning: Mapping[str, int] | None = None,
) -> UpstreamFailure:
    """The failure an upstream's error answer means, whatever shape its body has.

    `meaning` maps an upstream's own error codes to the HTTP status they stand for, where
    the code says more than the status it came with (Workers AI's 3036 is a spent quota)."""
    if is_html(body):
        # A bot challenge or block page stands between us and the API; its text is not an error message.
        message = f"the upstream answered HTTP {status} with a web page instead of its API (a bot challenge or block page)"
        if status in (200, 403):
            return UpstreamFailure(Reason.BLOCKED, message, status=status)
        return classify(status, message, headers=headers)
    message, code = error_details(body)
    if meaning and code is not None and code in meaning:
        status = meaning[code]
    return classify(
        status, message or f"the upstream answered HTTP {status}", code=code, headers=headers
    )


def error_details(body: bytes) -> tuple[str, str | None]:
    """The message and code of an error body in any of the shapes upstreams use: OpenAI's
    `{"error": {...}}`, Cloudflare's `errors` list, a bare JSON string, `{"message", "code"}`,
    `{"error": str, "detail": ...}`, FastAPI's `{"detail": [...]}`, or plain text."""
    try:
        data = json.loads(body)
    except ValueError:
        return body[:300].decode(errors="replace").strip(), None
    return _details(data)


def _details(data: object) -> tuple[str, str | None]:
    if isinstance(data, str):
        return data, None
    if not isinstance(data, dict):
        return "", None
    if isinstance(data.get("error"), dict):
        return _details(data["error"])
    if (
        isinstance(data.get("errors"), list)
        and data["errors"]
        and isinstance(data["errors"][0], dict)
    ):
        return _details(data["errors"][0])
    texts = [_text(data.get(name)) for name in ("error", "message", "detail", "msg")]
    code = next((data[name] for name in ("code", "type") if data.get(name) not in (None, "")), None)
    return ": ".join(dict.fromkeys(text for text in texts if text)), None if code is None else str(
        code
    )


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # validation errors: [{"msg": ...}, ...]
        return "; ".join(
            str(item.get("msg", item)) if isinstance(item, dict) else str(item) for item in value
        )
    return ""
