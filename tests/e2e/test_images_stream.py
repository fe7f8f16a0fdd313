"""`images.generate(stream=True)` through the SDK: previews relayed from the upstreams that
make them, one completed event per image, errors as an error event, no [DONE]."""

import base64

import httpx
import openai
import pytest

from tests.e2e.test_chat_completions import openai_env
from tests.e2e.test_images_api import unique
from tests.fakes.a1111 import PROGRESS, TXT2IMG, start_a1111
from tests.fakes.openai_images import GENERATIONS
from tests.gateway import Gateway
from worker.upstream.sniff import sniff


@pytest.fixture(scope="module")
def gateway(redis_server, openai_upstream):
    server, _ = openai_upstream
    redis_server.flush()
    env = {**openai_env(server.url), "IMAGE_GEN_MODEL_1": "flux-dev,gpt-image-1"}
    with Gateway(redis_server.url, env).start() as gateway:
        yield gateway


def test_gpt_image_previews_are_relayed_then_the_completed_image(gateway, openai_upstream):
    server, fake = openai_upstream
    prompt = unique("a paper crane")
    events = list(
        gateway.client().images.generate(
            model="gpt-image-1", prompt=prompt, stream=True, partial_images=2, quality="low"
        )
    )
    assert [e.type for e in events] == [
        "image_generation.partial_image",
        "image_generation.partial_image",
        "image_generation.completed",
    ]
    assert [e.partial_image_index for e in events[:2]] == [0, 1]
    assert [base64.b64decode(e.b64_json) for e in events[:2]] == fake.previews[-2:]
    done = events[-1]
    assert base64.b64decode(done.b64_json) == fake.produced[-1]
    assert (done.size, done.quality, done.output_format) == ("1024x1024", "low", "png")
    assert done.usage.total_tokens > 0
    [body] = [b for b in server.json_bodies(GENERATIONS) if b["prompt"] == prompt]
    assert body["stream"] is True and body["partial_images"] == 2


def test_a_model_without_previews_sends_one_completed_event_per_image(gateway, openai_upstream):
    _, fake = openai_upstream
    events = list(
        gateway.client().images.generate(
            model="flux-dev", prompt=unique("a fern"), n=2, stream=True, partial_images=3
        )
    )
    assert [e.type for e in events] == ["image_generation.completed"] * 2
    assert [base64.b64decode(e.b64_json) for e in events] == fake.produced[-2:]


def test_the_raw_stream_has_event_lines_and_no_done(gateway):
    with httpx.stream(
        "POST",
        f"{gateway.url}/v1/images/generations",
        headers={"Authorization": f"Bearer {gateway.key}"},
        json={
            "model": "gpt-image-1",
            "prompt": unique("a bell"),
            "stream": True,
            "partial_images": 1,
        },
        timeout=30,
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        text = response.read().decode()
    assert text.startswith("event: image_generation.partial_image\ndata: {")
    assert "event: image_generation.completed\n" in text and "[DONE]" not in text
    assert text.endswith("\n\n")


def test_a_failure_after_the_stream_started_is_an_error_event(gateway):
    stream = gateway.client().images.generate(
        model="flux-dev", prompt=unique("__500__ a storm"), stream=True
    )
    with pytest.raises(openai.APIError) as raised:
        list(stream)
    assert raised.value.code == "upstream_failed"


def test_the_placeholder_streams_with_no_configuration(start_gateway):
    events = list(
        start_gateway()
        .client()
        .images.generate(
            model="placeholder", prompt="a kite", size="256x256", stream=True, partial_images=2
        )
    )
    [done] = events
    image = sniff(base64.b64decode(done.b64_json))
    assert done.type == "image_generation.completed" and (image.width, image.height) == (256, 256)


def test_a1111_live_previews_of_this_task_are_relayed_capped_at_partial_images(start_gateway):
    server, fake = start_a1111(credentials="webui:secret")
    with server:
        env = {
            "IMAGE_GEN_MODEL_1": "sdxl",
            "IMAGE_GEN_API_BASE_1": server.url,
            "IMAGE_GEN_KIND_1": "a1111",
            "IMAGE_GEN_API_KEY_1": "webui:secret",
        }
        events = list(
            start_gateway(env)
            .client()
            .images.generate(
                model="sdxl", prompt="a lighthouse", size="512x512", stream=True, partial_images=2
            )
        )
        [body] = server.json_bodies(TXT2IMG)
        polled = {r.json["id_task"] for r in server.requests_to(PROGRESS)}
    assert [e.type for e in events] == ["image_generation.partial_image"] * 2 + [
        "image_generation.completed"
    ]
    assert [base64.b64decode(e.b64_json) for e in events[:2]] == fake.preview_images.produced[:2]
    assert [e.partial_image_index for e in events[:2]] == [0, 1]
    assert base64.b64decode(events[-1].b64_json) == fake.produced[-1]
    assert polled == {body["force_task_id"]}  # this task's progress, not the server's
