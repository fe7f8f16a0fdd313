"""Absolute image URLs: PUBLIC_BASE_URL, else the request's own scheme and host."""

import re

from litestar import Request

from common.answers import image_url  # noqa: F401 (absolute image URLs, shared with the worker)
from common.config.types import Settings

_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")


def public_base_url(request: Request, settings: Settings) -> str:
    if settings.public_base_url:
        return settings.public_base_url
    scheme, host = request.url.scheme, request.headers.get("host", "")
    if settings.trust_proxy_headers:
        scheme = _first(request.headers.get("x-forwarded-proto")) or scheme
        host = _first(request.headers.get("x-forwarded-host")) or host
    if scheme not in ("http", "https"):
        scheme = "http"
    if not _HOST.match(host):  # a forged Host must not smuggle text into our Markdown
        host = f"{settings.host}:{settings.port}"
    return f"{scheme}://{host}"


def _first(value: str | None) -> str | None:
    return value.split(",")[0].strip() if value else None
