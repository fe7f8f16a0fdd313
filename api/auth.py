"""Bearer auth for the generation routes: constant-time comparison against every gateway key."""

import hmac

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from common.config_types import Settings
from common.errors import AuthenticationFailed

NO_KEY_CONFIGURED = (
    "this gateway has no API key configured, so it refuses every request: set GATEWAY_API_KEY "
    "(or API_KEY, AUTHORIZED_API_KEY, or GATEWAY_API_KEYS for several), or ALLOW_ANONYMOUS=true to open it"
)


def bearer_token(connection: ASGIConnection) -> str | None:
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def key_matches(settings: Settings, token: str) -> bool:
    matched = False
    for key in settings.gateway_keys:  # no early exit: the time taken never depends on which key matched
        matched |= hmac.compare_digest(key.encode(), token.encode())
    return matched


def require_gateway_key(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    settings: Settings = connection.app.state.settings
    if settings.allow_anonymous:
        return
    if not settings.gateway_keys:
        raise AuthenticationFailed(NO_KEY_CONFIGURED, code="missing_api_key")
    token = bearer_token(connection)
    if token is None:
        raise AuthenticationFailed("send your gateway key as `Authorization: Bearer <key>`", code="missing_api_key")
    if not key_matches(settings, token):
        raise AuthenticationFailed("the API key is not valid for this gateway", code="invalid_api_key")
