"""GET /: the welcome page and playground, and the static files it loads from /static."""

import html
import json
import re
import shlex
from functools import cache
from pathlib import Path
from string import Template
from urllib.parse import urlsplit

from litestar import Request, Response, Router, get
from litestar.datastructures import CacheControlHeader
from litestar.di import NamedDependency
from litestar.enums import MediaType
from litestar.static_files import create_static_files_router

from api.urls import public_base_url
from common.config.types import Settings

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-:\[\]]+$")


def static_files() -> Router:
    # no-cache, not max-age: after an upgrade the page must never run yesterday's script.
    return create_static_files_router(
        path="/static", directories=[STATIC_DIR], cache_control=CacheControlHeader(no_cache=True)
    )


@get("/", include_in_schema=False)
async def welcome(request: Request, settings: NamedDependency[Settings]) -> Response[str]:
    base_url = public_base_url(request, settings)
    headers = {
        "Content-Security-Policy": content_security_policy(settings),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }
    return Response(render_page(settings, base_url), media_type=MediaType.HTML, headers=headers)


def content_security_policy(settings: Settings) -> str:
    """Only our own scripts, styles and fetches; images also from PUBLIC_BASE_URL, where answers
    point, and blob: URLs (the preview of the image the user picked to edit)."""
    images = "'self' blob:"
    if settings.public_base_url:
        parts = urlsplit(settings.public_base_url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if _ORIGIN.match(origin):
            images += f" {origin}"
    return (
        f"default-src 'self'; img-src {images}; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    )


def render_page(settings: Settings, base_url: str) -> str:
    """The page with this gateway's base URL and models; every value is escaped for HTML."""
    default = settings.default_model or settings.model_names()[0]
    api_base = f"{base_url}/v1"
    values = {
        "api_base": api_base,
        "py_base_url": json.dumps(api_base),
        "py_model": json.dumps(default),
        "curl_url": shlex.quote(f"{api_base}/chat/completions"),
        # The model's JSON string sits inside the snippet's single-quoted shell argument.
        "curl_model": json.dumps(default).replace("'", "'\\''"),
    }
    escaped = {name: html.escape(value) for name, value in values.items()}
    # Without an enhancement LLM the switch would do nothing: say so instead of pretending.
    enhance = (
        {"enhance_state": "checked", "enhance_note": ""}
        if settings.enhance
        else {
            "enhance_state": "disabled",
            "enhance_note": ' <span class="muted">(no enhancement LLM configured)</span>',
        }
    )
    return _template().substitute(
        escaped,
        **enhance,
        model_items=_model_items(settings, default),
        model_options=_model_options(settings, default),
    )


def _model_options(settings: Settings, default: str) -> str:
    """The picker filled in the page itself, so it is never empty at first paint; the script
    refreshes it once a key is known."""
    return "".join(
        f'<option value="{html.escape(name)}"{" selected" if name == default else ""}>'
        f"{html.escape(name)}</option>"
        for name in settings.model_names()
    )


def _model_items(settings: Settings, default: str) -> str:
    items = []
    for provider in settings.providers:
        for model in provider.models:
            badge = ' <span class="badge">default</span>' if model.name == default else ""
            items.append(
                f"<li><code>{html.escape(model.name)}</code>{badge}"
                f' <span class="muted">via {html.escape(provider.name)}</span></li>'
            )
    return "\n".join(items)


@cache
def _template() -> Template:
    return Template((STATIC_DIR / "index.html").read_text(encoding="utf-8"))
