"""The clients of calls made on someone's behalf keep no cookies between requests, under both
transports: httpx's own (the api's input images) and aiohttp's (the worker's upstreams)."""

import httpx
import pytest
from aiohttp import web
from httpx_aiohttp import AiohttpTransport

from common.http_client import CookielessAiohttpTransport, CookielessClient
from tests.fakes.server import FakeServer

pytestmark = pytest.mark.asyncio


def setting_a_session() -> FakeServer:
    async def answer(_):
        return web.json_response({}, headers={"Set-Cookie": "session=key-one; Path=/"})

    app = web.Application()
    app.router.add_route("*", "/v1/images/generations", answer)
    return FakeServer(app)


async def cookies_sent(client: httpx.AsyncClient, server: FakeServer) -> list[str | None]:
    """Two requests by two keys; the Cookie header each carried. The host is named, not an
    address: aiohttp's own jar keeps no cookies for bare IP addresses."""
    url = server.url.replace("127.0.0.1", "localhost") + "/v1/images/generations"
    server.clear()
    async with client:
        for key in ("sk-one", "sk-two"):
            await client.post(url, headers={"Authorization": f"Bearer {key}"}, json={})
    return [request.headers.get("cookie") for request in server.requests]


@pytest.fixture(scope="module")
def server():
    with setting_a_session().start() as server:
        yield server


@pytest.mark.parametrize("transport", [None, AiohttpTransport])
async def test_a_plain_client_sends_the_first_answers_cookie_with_the_second_request(
    server, transport
):
    # What the clients below must not do: both jars, httpx's and aiohttp's, keep it.
    client = httpx.AsyncClient(transport=transport() if transport else None)
    assert await cookies_sent(client, server) == [None, "session=key-one"]


@pytest.mark.parametrize("transport", [None, CookielessAiohttpTransport])
async def test_a_cookieless_client_never_sends_a_cookie_an_answer_set(server, transport):
    client = CookielessClient(transport=transport() if transport else None)
    assert await cookies_sent(client, server) == [None, None]
