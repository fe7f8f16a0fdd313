"""Loading an edit's input images: URLs under the download rules, data: URIs, the own cache."""

import base64

import httpx
import pytest
from aiohttp import web
from litestar.testing import AsyncTestClient

from api.app import create_app
from api.jobs.inputs import MAX_IMAGE_BYTES, Inputs, image_size
from api.jobs.uploads import Upload
from common.config.load import load_settings
from common.errors import InvalidRequest
from tests.fakes.server import FakeServer
from worker.render.png import solid_png

PNG = solid_png(20, 10, (1, 2, 3))


def _app() -> web.Application:
    async def image(_):
        return web.Response(body=PNG, content_type="image/png")

    async def hop(request):
        raise web.HTTPFound(request.query["to"])

    async def with_session(_):
        headers = {"Set-Cookie": "session=caller-one; Path=/"}
        return web.Response(body=PNG, content_type="image/png", headers=headers)

    async def huge(_):
        return web.Response(body=PNG + bytes(MAX_IMAGE_BYTES), content_type="image/png")

    app = web.Application()
    app.router.add_get("/a.png", image)
    app.router.add_get("/hop", hop)
    app.router.add_get("/huge.png", huge)
    app.router.add_get("/session.png", with_session)
    return app


@pytest.fixture(scope="module")
def server():
    with FakeServer(_app()).start() as server:
        yield server


class _NoCache:
    async def get(self, image_id):
        return None


def inputs(server, client) -> Inputs:
    # Only the fake's own address counts as public here; every other host is "private".
    port = int(server.url.rsplit(":", 1)[1])

    async def allowed(host: str, to_port: int) -> bool:
        return (host, to_port) == ("127.0.0.1", port)

    return Inputs(client, _NoCache(), "http://gateway.test", allowed)


async def load(server, url: str) -> bytes:
    async with httpx.AsyncClient() as client:
        return await inputs(server, client).load(Upload("images[0].image_url", url=url))


async def refused(server, url: str) -> str:
    with pytest.raises(InvalidRequest) as error:
        await load(server, url)
    assert error.value.param == "images[0].image_url"
    return error.value.message


async def test_a_public_url_is_fetched_and_a_redirect_followed(server):
    assert await load(server, f"{server.url}/a.png") == PNG
    assert await load(server, f"{server.url}/hop?to=/a.png") == PNG


async def test_a_redirect_to_a_private_host_is_checked_again_and_refused(server):
    message = await refused(server, f"{server.url}/hop?to=http://localhost:1/a.png")
    assert "public address" in message


@pytest.mark.parametrize(
    ("path", "words"),
    [("/missing.png", "HTTP 404"), ("/huge.png", "larger than 20 MB")],
)
async def test_failures_name_the_param(server, path, words):
    assert words in await refused(server, f"{server.url}{path}")


async def test_other_schemes_and_expired_own_images_are_refused(server):
    assert "http(s)" in await refused(server, "file:///etc/passwd")
    assert "expired" in await refused(server, "http://gateway.test/image/" + "a" * 32 + ".png")
    assert "expired" in await refused(server, "/image/" + "b" * 32)


async def test_the_apps_client_keeps_no_cookie_from_one_callers_fetch_for_the_next(
    server, redis_server
):
    # A named host: the jar would keep no cookie for a bare address.
    port = int(server.url.rsplit(":", 1)[1])
    url = f"http://localhost:{port}/session.png"

    async def allowed(host: str, to_port: int) -> bool:
        return (host, to_port) == ("localhost", port)

    settings = load_settings({"REDIS_URL": redis_server.url, "GATEWAY_API_KEY": "ig-test-key"})
    async with AsyncTestClient(create_app(settings)) as app:
        fetches = Inputs(app.app.state.http, _NoCache(), "http://gateway.test", allowed)
        for caller in ("one", "two"):
            assert await fetches.load(Upload(f"images[0].image_url ({caller})", url=url)) == PNG
    assert [r.headers.get("cookie") for r in server.requests_to("/session.png")] == [None, None]


async def test_data_uris_decode_or_are_400(server):
    encoded = base64.b64encode(PNG).decode()
    assert await load(server, f"data:image/png;base64,{encoded[:10]}\n{encoded[10:]}") == PNG
    assert "base64" in await refused(server, "data:image/png,rawtext")


def test_image_size_reads_the_header_and_refuses_other_formats():
    assert image_size("image", PNG) == (20, 10)
    with pytest.raises(InvalidRequest, match="not a PNG, JPEG or WebP"):
        image_size("image", b"GIF89a\x01\x00\x01\x00")
    with pytest.raises(InvalidRequest, match="not a PNG image"):
        image_size("mask", b"\xff\xd8\xff\xe0", formats=("PNG",))
