"""Bearer auth for the generation routes: constant-time comparison against every gateway key."""

import hmac

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from common.config.types import Settings
from common.errors import AuthenticationFailed
from common.store.keys import digest

NO_KEY_CONFIGURED = (
    "this gateway has no API key configured, so it refuses every request: set GATEWAY_API_KEY "
    "(or API_KEY, AUTHORIZED_API_KEY, or GATEWAY_API_KEYS for several), or ALLOW_ANONYMOUS=true to open it"
)


def bearer_token(connection: ASGIConnection) -> str | None:
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


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
    token = bearer_token(connection)
    if token is None:
        raise AuthenticationFailed(
            "send your gateway key as `Authorization: Bearer <key>`", code="missing_api_key"
        )
    if not key_matches(settings, token):
        raise AuthenticationFailed(
            "the API key is not valid for this gateway", code="invalid_api_key"
        )
    connection.state.caller = digest(token)
