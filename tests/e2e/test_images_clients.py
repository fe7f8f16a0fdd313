"""The Images API requests Open WebUI, LibreChat, Cherry Studio and LobeChat send, each
answered as that client reads it (what each sends and reads: their own code, 2026)."""

import base64

import httpx
import pytest

from tests.e2e.test_chat_completions import openai_env
from tests.e2e.test_images_api import unique
from tests.gateway import Gateway
from worker.upstream.sniff import sniff


@pytest.fixture(scope="module")
def gateway(redis_server, openai_upstream):
    server, _ = openai_upstream
    redis_server.flush()
    env = {**openai_env(server.url), "IMAGE_GEN_MODEL_1": "flux-dev,dall-e-3,gpt-image-1"}
    with Gateway(redis_server.url, env).start() as gateway:
        yield gateway


def post(gateway, body: dict) -> dict:
    response = httpx.post(
        f"{gateway.url}/v1/images/generations",
        headers={"Authorization": f"Bearer {gateway.key}"},
        json=body,
        timeout=60,
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("model", ["gpt-image-1", "dall-e-3", "flux-dev"])
def test_open_webui_reads_the_url_first_fetched_with_its_key(gateway, model):
    # 512x512 to every model; response_format b64_json unless the name starts with gpt-image.
    body = {"model": model, "prompt": unique("a heron"), "n": 1, "size": "512x512"}
    if not model.startswith("gpt-image"):
        body["response_format"] = "b64_json"
    item = post(gateway, body)["data"][0]
    data = (
        httpx.get(item["url"], headers={"Authorization": f"Bearer {gateway.key}"}).content
        if "url" in item
        else base64.b64decode(item["b64_json"])
    )
    made = sniff(data)
    expected = {"gpt-image-1": (1024, 1024), "dall-e-3": (1024, 1024), "flux-dev": (512, 512)}
    assert (made.width, made.height) == expected[model]  # the closest size the model takes


@pytest.mark.parametrize(
    ("model", "output_format"), [("gpt-image-1", "webp"), ("flux-dev", "jpeg")]
)
def test_librechat_reads_only_b64_json_in_the_format_it_asked(gateway, model, output_format):
    answer = post(
        gateway,
        {
            "model": model,
            "prompt": unique("a fox"),
            "n": 1,
            "background": "auto",
            "output_format": output_format,
            "output_compression": 100,
            "quality": "auto",
            "size": "1024x1024",
        },
    )
    data = base64.b64decode(answer["data"][0]["b64_json"])
    assert sniff(data).content_type == f"image/{output_format}"
    assert answer["output_format"] == output_format


@pytest.mark.parametrize("model", ["gpt-image-1", "flux-dev", "dall-e-3"])
def test_cherry_studio_hints_are_taken_or_dropped_never_refused(gateway, model):
    answer = post(
        gateway,
        {
            "prompt": unique("a teapot"),
            "model": model,
            "size": "1024x1024",
            "background": "auto",
            "n": 1,
            "quality": "auto",
            "moderation": "auto",
        },
    )
    [item] = answer["data"]
    assert item["url"].startswith(gateway.url) and item["b64_json"]  # it reads either


def test_lobechat_reads_b64_json_or_url_and_usage(gateway):
    client = gateway.client()
    dalle = client.images.generate(
        model="dall-e-3", prompt=unique("a comet"), n=1, response_format="b64_json"
    )
    assert dalle.data[0].b64_json and dalle.data[0].url is None
    gpt = client.images.generate(model="gpt-image-1", prompt=unique("a comet"), n=1)
    assert gpt.data[0].b64_json and gpt.usage is not None and gpt.usage.total_tokens > 0
