"""HTTP clients that keep no cookies, for every call the gateway makes on someone's behalf:
upstream calls and webhooks (the worker), input images fetched by URL (the api).

A cookie one answer sets must never ride along with the next request: that request may be
made with another key, or for another caller, so a kept cookie would hand one's session to
the other. httpx keeps a jar, and under httpx-aiohttp so does aiohttp's session beneath it;
both are emptied here. (Parsing Set-Cookie through urllib's shims also cost about a tenth of
each upstream call's CPU.)"""

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport


class _Jarless(httpx.Cookies):
    """A cookie jar that keeps nothing."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


_NO_COOKIES = _Jarless()


class CookielessClient(httpx.AsyncClient):
    """httpx's client with a jar that keeps nothing."""

    @property
    def cookies(self) -> httpx.Cookies:
        return _NO_COOKIES

    @cookies.setter
    def cookies(self, cookies: object) -> None:
        return None


class CookielessAiohttpTransport(AiohttpTransport):
    """httpx-aiohttp's transport on an aiohttp session whose jar keeps nothing: its default
    session keeps one of its own, beside httpx's, for every named host."""

    def get_client(self) -> aiohttp.ClientSession:
        limit = self.limits.max_connections
        connector = aiohttp.TCPConnector(
            limit=100 if limit is None else limit,  # aiohttp's own default when unset
            keepalive_timeout=self.limits.keepalive_expiry,
            ssl=self.ssl_context,
        )
        return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())
