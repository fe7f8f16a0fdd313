"""The openai adapter against the fake OpenAI Images API: each family's fields, and every error."""

import base64
from functools import partial

import pytest
from aiohttp import web
from msgspec.structs import replace

from common.schemas import ImageOptions
from tests.fakes.adapter_calls import AdapterTarget, call, failure, image_request, provider
from tests.fakes.openai_images import GENERATIONS, start_openai_images
from tests.fakes.payloads import encoded
from tests.fakes.server import FakeServer
from worker.providers import ADAPTERS
from worker.providers.base import Report, Upstream
from worker.upstream.client import UpstreamClient
from worker.upstream.failures import Reason, UpstreamFailure

KEY = "sk-openai-good"


FAKE = AdapterTarget("openai", partial(start_openai_images, valid_keys=[KEY]), path="/v1")


def quality_request(model: str, quality: str, style: str | None = None, size: int = 1024):
    return replace(
        image_request("openai", model, width=size, height=size),
        options=ImageOptions(quality=quality, style=style),
    )


async def test_gpt_image_never_gets_response_format(spec, upstream):
    server, fake = upstream
    [image] = await call(spec, quality_request("gpt-image-1", "hd"), KEY)
    assert image == fake.produced[-1]
    assert server.json_bodies(GENERATIONS) == [
        {
            "model": "gpt-image-1",
            "prompt": "a red fox in snow",
            "n": 1,
            "size": "1024x1024",
            "quality": "high",
        }
    ]


async def test_dall_e_3_gets_its_own_quality_words_and_style(spec, upstream):
    server, _ = upstream
    await call(spec, quality_request("dall-e-3", "high", style="natural"), KEY)
    [body] = server.json_bodies(GENERATIONS)
    assert (body["quality"], body["style"], body["response_format"]) == (
        "hd",
        "natural",
        "b64_json",
    )


async def test_dall_e_2_gets_no_quality_or_style(spec, upstream):
    server, _ = upstream
    await call(spec, quality_request("dall-e-2", "hd", style="vivid", size=512), KEY)
    [body] = server.json_bodies(GENERATIONS)
    assert set(body) == {"model", "prompt", "n", "size", "response_format"}


@pytest.mark.parametrize(
    ("key", "prompt", "reason", "retry_after"),
    [
        ("sk-revoked", "a fox", Reason.KEY, None),
        (KEY, "a fox __429__", Reason.RATE, 7.0),
        (KEY, "a fox __quota__", Reason.QUOTA, None),
        (KEY, "a fox __500__", Reason.UNAVAILABLE, None),
        (KEY, "a fox __503__", Reason.UNAVAILABLE, None),
        (KEY, "a fox __403__", Reason.BLOCKED, None),  # region block: every key alike
        (KEY, "a fox __html403__", Reason.BLOCKED, None),  # bot challenge page
        (KEY, "a fox __moderation__", Reason.PROMPT, None),
        (KEY, "a fox __policy__", Reason.PROMPT, None),
        (KEY, "a fox __badmodel__", Reason.CONFIG, None),
    ],
)
async def test_errors_map_to_failures(spec, key, prompt, reason, retry_after):
    found = await failure(
        spec, image_request("openai", "flux-dev", prompt, width=512, height=512), key
    )
    assert (found.reason, found.retry_after) == (reason, retry_after)


class Collected:
    def __init__(self) -> None:
        self.previews: list[tuple[bytes, int]] = []

    async def __call__(self, data: bytes, image: int) -> None:
        self.previews.append((data, image))


async def stream_call(spec, prompt: str, n: int = 1):
    collected = Collected()
    report = Report(2, collected)
    request = replace(image_request("openai", "gpt-image-1", prompt, n=n), options=ImageOptions())
    async with UpstreamClient() as client:
        images = await ADAPTERS["openai"](Upstream(client, spec, KEY, report), request)
    return images, collected.previews, report


async def test_gpt_image_streams_its_previews_to_the_report_then_its_images(spec, upstream):
    server, fake = upstream
    images, previews, report = await stream_call(spec, "a swan", n=2)
    assert images == fake.produced[-2:]
    assert previews == [
        (fake.previews[-4], 0),
        (fake.previews[-3], 0),
        (fake.previews[-2], 1),
        (fake.previews[-1], 1),
    ]
    assert report.usage.output_tokens == 2 * 1056 and report.quality == "medium"
    [body] = server.json_bodies(GENERATIONS)
    assert (body["stream"], body["partial_images"]) == (True, 2)


async def test_an_error_event_mid_stream_is_a_failure_another_key_may_fix(spec):
    with pytest.raises(UpstreamFailure) as raised:
        await stream_call(spec, "a swan __midstream_error__")
    assert raised.value.reason is Reason.UNAVAILABLE


async def test_a_compatible_server_that_ignores_stream_is_read_as_a_plain_answer():
    png = encoded(8, 8, (1, 2, 3), "png", False)

    accepted = []

    async def plain_json(request):
        accepted.append(request.headers.getall("Accept"))
        return web.json_response({"data": [{"b64_json": base64.b64encode(png).decode()}]})

    app = web.Application()
    app.router.add_post("/v1/images/generations", plain_json)
    report = Report(2, Collected())
    request = image_request("openai", "gpt-image-1")
    with FakeServer(app).start() as server:
        spec = provider("openai", f"{server.url}/v1")
        async with UpstreamClient() as client:
            images = await ADAPTERS["openai"](Upstream(client, spec, KEY, report), request)
    assert images == [png]
    assert accepted == [["text/event-stream"]]  # in place of the client's default, not beside it
