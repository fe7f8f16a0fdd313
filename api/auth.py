"""Bearer auth: the gateway keys on the generation routes, METRICS_KEY on /metrics, compared in
constant time; wrong keys from one address are throttled on both alike."""

import hmac
import math
import time
from collections.abc import Callable

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from redis.asyncio import Redis
from redis.exceptions import RedisError

from common.config.types import Settings
from common.errors import AuthenticationFailed, RateLimited
from common.store import keys
from common.store.keys import digest

NO_KEY_CONFIGURED = (
    "this gateway has no API key configured, so it refuses every request: set GATEWAY_API_KEY "
    "(or API_KEY, AUTHORIZED_API_KEY, or GATEWAY_API_KEYS for several), or ALLOW_ANONYMOUS=true to open it"
)


def bearer_token(connection: ASGIConnection) -> str | None:
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


class WrongKeyThrottle:
    """Wrong keys per client address and minute (AUTH_FAILURES_PER_MINUTE), counted in Redis so
    every api process shares them; past the limit the address gets 429 until its minute ends,
    whatever key it sends, so guessing is no faster with the right one. Addresses are
    remembered here too: a throttled client costs no Redis round trip."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._blocked: dict[str, float] = {}  # address → when its minute ends

    def check(self, address: str) -> None:
        until = self._blocked.get(address)
        if until is not None:
            if until > time.time():
                raise self._refusal(until)
            del self._blocked[address]

    async def failed(self, redis: Redis, address: str) -> None:
        """Count a wrong key; raise 429 once the address passed its limit."""
        if not self.limit:
            return
        key = keys.auth_failures(address)
        try:
            async with redis.pipeline(transaction=True) as pipe:
                pipe.set(key, 0, ex=60, nx=True)
                pipe.incr(key)
                pipe.ttl(key)
                _, count, ttl = await pipe.execute()
        except (RedisError, OSError):
            return  # the 401 stands; Redis's outage is answered by the routes that need it
        if count > self.limit:
            if len(self._blocked) > 10_000:
                now = time.time()
                self._blocked = {a: u for a, u in self._blocked.items() if u > now}
            until = time.time() + max(ttl, 1)
            self._blocked[address] = until
            raise self._refusal(until)

    def _refusal(self, until: float) -> RateLimited:
        return RateLimited(
            f"more than {self.limit} wrong API keys a minute from this address; wait and retry",
            retry_after=max(1, math.ceil(until - time.time())),
        )


def key_matches(settings: Settings, token: str) -> bool:
    matched = False
    for (
        key
    ) in settings.gateway_keys:  # no early exit: the time taken never depends on which key matched
        matched |= hmac.compare_digest(key.encode(), token.encode())
    return matched


async def require_gateway_key(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Let the request through or raise 401; `connection.state.caller` names the caller (a key
    hash, or the client address when anonymous) for rate limits and idempotency.

    Async only so that Litestar calls it inline: it runs sync guards on a thread pool."""
    settings: Settings = connection.app.state.settings
    if settings.allow_anonymous:
        token = bearer_token(connection)
        client = connection.client.host if connection.client else "unknown"
        connection.state.caller = (
            digest(token) if token and key_matches(settings, token) else digest(f"client {client}")
        )
        return
    if not settings.gateway_keys:
        raise AuthenticationFailed(NO_KEY_CONFIGURED, code="missing_api_key")
    token = await checked_token(
        connection,
        lambda token: key_matches(settings, token),
        missing="send your gateway key as `Authorization: Bearer <key>`",
        wrong="the API key is not valid for this gateway",
    )
    connection.state.caller = digest(token)


async def require_metrics_key(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """/metrics is open unless METRICS_KEY is set; then it takes that key alone."""
    metrics_key: str | None = connection.app.state.settings.metrics_key
    if metrics_key:
        await checked_token(
            connection,
            lambda token: hmac.compare_digest(token.encode(), metrics_key.encode()),
            missing="/metrics needs `Authorization: Bearer <METRICS_KEY>`",
            wrong="the key is not this gateway's METRICS_KEY",
        )


async def checked_token(
    connection: ASGIConnection, accepted: Callable[[str], bool], *, missing: str, wrong: str
) -> str:
    """The request's Bearer token once `accepted` takes it, else 401. A wrong token counts
    against the client address (WrongKeyThrottle), whichever route's key it guessed at."""
    throttle: WrongKeyThrottle = connection.app.state.auth_throttle
    address = connection.client.host if connection.client else "unknown"
    throttle.check(address)
    token = bearer_token(connection)
    if token is None:
        raise AuthenticationFailed(missing, code="missing_api_key")
    if not accepted(token):
        await throttle.failed(connection.app.state.redis, address)
        raise AuthenticationFailed(wrong, code="invalid_api_key")
    return token
