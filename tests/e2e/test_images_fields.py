"""Every field of today's Images API through the SDK: passed to the upstreams that take them,
served by re-encoding where they cannot, and the answer saying what was made."""

import base64

import httpx
import pytest

from tests.e2e.test_chat_completions import openai_env
from tests.e2e.test_images_api import unique
from tests.fakes.openai_images import GENERATIONS
from tests.gateway import Gateway
from worker.upstream.sniff import sniff

MAGIC = {"png": b"\x89PNG", "jpeg": b"\xff\xd8\xff", "webp": b"RIFF"}


def is_format(data: bytes, output_format: str) -> bool:
    return data.startswith(MAGIC[output_format]) and (
        output_format != "webp" or data[8:12] == b"WEBP"
    )


@pytest.fixture(scope="module")
def gateway(redis_server, openai_upstream):
    server, _ = openai_upstream
    redis_server.flush()
    env = {**openai_env(server.url), "IMAGE_GEN_MODEL_1": "flux-dev,dall-e-3,gpt-image-1"}
    with Gateway(redis_server.url, env).start() as gateway:
        yield gateway


def sent(openai_upstream, prompt: str) -> dict:
    server, _ = openai_upstream
    [body] = [b for b in server.json_bodies(GENERATIONS) if prompt in b["prompt"]]
    return body


def test_gpt_image_gets_every_field_and_the_answer_says_what_it_made(gateway, openai_upstream):
    prompt = unique("a glass apple")
    answer = gateway.client().images.generate(
        model="gpt-image-1",
        prompt=prompt,
        size="1024x1536",
        quality="high",
        background="transparent",
        output_format="webp",
        output_compression=80,
        moderation="low",
        user="user-42",
    )
    body = sent(openai_upstream, prompt)
    assert {k: body[k] for k in body if k not in ("prompt",)} == {
        "model": "gpt-image-1",
        "n": 1,
        "size": "1024x1536",
        "quality": "high",
        "background": "transparent",
        "output_format": "webp",
        "output_compression": 80,
        "moderation": "low",
        "user": "user-42",
    }
    assert (answer.size, answer.quality, answer.background, answer.output_format) == (
        "1024x1536",
        "high",
        "transparent",
        "webp",
    )
    assert answer.usage.total_tokens == answer.usage.input_tokens + answer.usage.output_tokens > 0
    [image] = answer.data
    data = base64.b64decode(image.b64_json)
    assert is_format(data, "webp") and data == openai_upstream[1].produced[-1]
    assert image.url.endswith(".webp") and httpx.get(image.url).content == data


@pytest.mark.parametrize(("output_format", "compression"), [("webp", None), ("jpeg", 40)])
def test_a_format_the_upstream_cannot_make_is_re_encoded(
    gateway, openai_upstream, output_format, compression
):
    prompt = unique("a tin robot")
    answer = gateway.client().images.generate(
        model="flux-dev",
        prompt=prompt,
        size="512x768",
        output_format=output_format,
        **({"output_compression": compression} if compression else {}),
    )
    assert not {"output_format", "output_compression"} & set(sent(openai_upstream, prompt))
    data = base64.b64decode(answer.data[0].b64_json)
    assert is_format(data, output_format) and answer.output_format == output_format
    assert (sniff(data).width, sniff(data).height) == (512, 768) and answer.size == "512x768"
    assert answer.usage is None and answer.background == "opaque"


def test_without_output_format_the_upstream_format_is_kept(gateway, openai_upstream):
    answer = gateway.client().images.generate(model="flux-dev", prompt=unique("a moth"))
    data = base64.b64decode(answer.data[0].b64_json)
    assert data == openai_upstream[1].produced[-1] and answer.output_format == "png"


def test_dall_e_3_gets_style_and_quality_words_but_no_gpt_image_fields(gateway, openai_upstream):
    prompt = unique("a lantern")
    answer = gateway.client().images.generate(
        model="dall-e-3", prompt=prompt, style="natural", quality="high", moderation="low"
    )
    body = sent(openai_upstream, prompt)
    assert (body["style"], body["quality"]) == ("natural", "hd") and "moderation" not in body
    assert answer.quality == "high"  # as asked: dall-e-3 reports nothing


def test_the_placeholder_serves_every_format_offline(start_gateway):
    client = start_gateway({"IMAGES_RESPONSE_FORMAT": "b64_json"}).client()
    for output_format in ("jpeg", "webp", "png"):
        answer = client.images.generate(
            model="placeholder", prompt="a kite", size="256x256", output_format=output_format
        )
        [image] = answer.data
        assert image.url is None and is_format(base64.b64decode(image.b64_json), output_format)
