"""Downloading images upstreams answer with as URLs: SSRF rules, redirects, the size cap, keys kept home."""

import httpx
import pytest
from aiohttp import web

from tests.fakes.adapter_calls import call, failure, image_request, provider
from tests.fakes.payloads import ImageMaker
from tests.fakes.server import FakeServer
from tests.fakes.siliconflow import KOLORS, start_siliconflow
from worker.upstream.download import download
from worker.upstream.failures import Reason, UpstreamFailure

KEY = "sk-sf-download"


@pytest.fixture(scope="module")
def upstream():
    server, fake = start_siliconflow(valid_keys=[KEY])
    with server:
        yield server, fake


@pytest.fixture(scope="module")
def elsewhere():
    """Another server: it records which headers reach it, and redirects where it is told."""
    image, _ = ImageMaker().make(64, 64)

    async def picture(request: web.Request) -> web.Response:
        return web.Response(body=image, content_type="image/png")

    async def bounce(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["to"])

    app = web.Application()
    app.router.add_get("/picture.png", picture)
    app.router.add_get("/bounce", bounce)
    with FakeServer(app) as server:
        yield server, image


def spec(server):
    return provider("siliconflow", f"{server.url}/v1")


def kolors(prompt: str):
    return image_request("siliconflow", KOLORS, prompt, width=512, height=512)


async def test_an_image_on_the_providers_own_host_is_fetched_with_its_key(upstream):
    server, fake = upstream
    server.clear()
    [image] = await call(
        spec(server), kolors("a fox __redirect_3__"), KEY
    )  # three redirects are fine
    assert image == fake.produced[-1]
    fetched = [r for r in server.requests if r.path.startswith("/files/")]
    assert [r.headers.get("authorization") for r in fetched] == [f"Bearer {KEY}"]


@pytest.mark.parametrize("scenario", ["private_url", "redirect_4", "huge_image"])
async def test_refused_image_urls_and_oversized_bodies(upstream, scenario):
    server, _ = upstream
    found = await failure(spec(server), kolors(f"a fox __{scenario}__"), KEY)
    assert found.reason is Reason.UNUSABLE, found.message


async def test_a_redirect_to_a_private_address_is_refused(upstream, elsewhere):
    server, _ = upstream
    other, _ = elsewhere
    url = f"{other.url}/bounce?to=http://169.254.169.254/latest/meta-data"
    with pytest.raises(UpstreamFailure) as refused:
        async with httpx.AsyncClient() as client:
            await download(client, url, f"{other.url}/v1/images/generations", {})
    assert refused.value.reason is Reason.UNUSABLE and "private address" in refused.value.message


async def test_another_port_of_the_providers_host_is_not_exempt(upstream, elsewhere):
    server, _ = upstream
    other, _ = elsewhere
    provider_url = f"{server.url}/v1/images/generations"  # same host as `other`, another port
    with pytest.raises(UpstreamFailure) as refused:
        async with httpx.AsyncClient() as client:
            await download(client, f"{other.url}/picture.png", provider_url, {})
    assert refused.value.reason is Reason.UNUSABLE and "private address" in refused.value.message


async def test_the_provider_key_never_goes_to_another_origin(upstream, elsewhere, monkeypatch):
    server, _ = upstream
    other, image = elsewhere
    other.clear()
    provider_url = f"{server.url}/v1/images/generations"  # same host as `other`, another port
    # `other` stands for a public host here: loopback is refused unless it is the provider's.
    monkeypatch.setattr("common.net.is_public", lambda address: True)
    async with httpx.AsyncClient() as client:
        image_url = f"{other.url}/bounce?to={other.url}/picture.png"
        fetched = await download(
            client, image_url, provider_url, {"Authorization": f"Bearer {KEY}"}
        )
    assert fetched == image
    assert all("authorization" not in r.headers for r in other.requests)


@pytest.mark.parametrize(
    "url", ["ftp://files.example.com/a.png", "file:///etc/passwd", "http:///nohost.png"]
)
async def test_only_http_urls_are_fetched(url):
    with pytest.raises(UpstreamFailure) as refused:
        async with httpx.AsyncClient() as client:
            await download(client, url, "https://api.example.com/v1", {})
    assert refused.value.reason is Reason.UNUSABLE
