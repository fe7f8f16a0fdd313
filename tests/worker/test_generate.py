"""The generate job against a real Redis: what it stores, announces, and never pays for twice."""

import base64

import pytest
from aiohttp import web

from common.config.load import load_settings
from common.schemas import Completed, GenerateJob, encode
from common.store.events import EventHub
from common.store.images import RedisImageStore
from tests.fakes.server import FakeServer
from worker.generate import generate
from worker.render.png import solid_png
from worker.services import build_services

pytestmark = pytest.mark.asyncio

PNG = solid_png(64, 64, (10, 200, 30))


@pytest.fixture
async def services(redis):
    async def openai_images(_):
        return web.json_response(
            {"created": 1, "data": [{"b64_json": base64.b64encode(PNG).decode()}]}
        )

    app = web.Application()
    app.router.add_post("/v1/images/generations", openai_images)
    with FakeServer(app).start() as server:
        settings = load_settings(
            {
                "IMAGE_GEN_MODEL_1": "flux-dev",
                "IMAGE_GEN_API_BASE_1": f"{server.url}/v1",
                "IMAGE_GEN_API_KEY_1": "sk-test",
                "IMAGE_GEN_KIND_1": "openai",
            }
        )
        services = build_services(settings, redis)
        yield services, server
        await services.http.aclose()


def job(job_id: str = "job-1") -> bytes:
    return encode(
        GenerateJob(id=job_id, request_id="r", model="flux-dev", prompt="a wren", original="a wren")
    )


async def completed_events(redis, job_id: str) -> list[Completed]:
    hub = EventHub(redis)
    async with hub.follow(job_id) as follower:
        events = []
        while (event := await follower.next(0.3)) is not None:
            events.append(event)
    return [e for e in events if isinstance(e, Completed)]


async def test_a_job_stores_its_image_and_announces_it(redis, services):
    services, upstream = services
    await generate({"services": services, "job_try": 1}, job())
    [done] = await completed_events(redis, "job-1")
    [image] = done.result.images
    assert (await RedisImageStore(redis, 60).get(image.id)).data == PNG
    assert (image.width, image.height, image.content_type) == (64, 64, "image/png")
    [asked] = upstream.json_bodies("/v1/images/generations")
    assert asked["prompt"] == "a wren"


async def test_a_rerun_of_a_finished_job_answers_without_calling_the_upstream(redis, services):
    services, upstream = services
    await generate({"services": services, "job_try": 1}, job())
    await generate(
        {"services": services, "job_try": 2}, job()
    )  # as after a worker died before arq's bookkeeping
    first, second = await completed_events(redis, "job-1")
    assert first.result == second.result
    assert len(upstream.requests_to("/v1/images/generations")) == 1
