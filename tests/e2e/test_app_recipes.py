"""Each "Connect your app" recipe of the README, tried with the request that app sends to the
URL the recipe sets (what each sends and reads: their own code, 2026)."""

import base64
import json

import httpx
import pytest

from tests.e2e.test_chat_completions import image_urls, openai_env
from tests.gateway import Gateway

PNG_OR_JPEG = (b"\x89PNG", b"\xff\xd8")


@pytest.fixture(scope="module")
def gateway(redis_server, openai_upstream):
    server, _ = openai_upstream
    redis_server.flush()
    with Gateway(redis_server.url, openai_env(server.url)).start() as gateway:
        yield gateway


def call(gateway, path: str, body: dict) -> httpx.Response:
    response = httpx.post(gateway.url + path, json=body, headers=gateway.headers(), timeout=60)
    assert response.status_code == 200, (path, response.text)
    return response


def streamed_content(gateway, path: str, body: dict) -> str:
    with httpx.stream(
        "POST", gateway.url + path, json={**body, "stream": True}, headers=gateway.headers()
    ) as response:
        assert response.status_code == 200
        frames = [line[6:] for line in response.iter_lines() if line.startswith("data: {")]
    chunks = [json.loads(frame) for frame in frames]
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


def decoded(item: dict) -> bytes:
    return base64.b64decode(item["b64_json"])


def test_open_webui_images(gateway):
    # Base `http://HOST:8000/v1`; it posts {model, prompt, n, size} plus b64_json.
    body = {"model": "flux-dev", "prompt": "a heron", "n": 1, "size": "512x512"}
    data = call(gateway, "/v1/images/generations", {**body, "response_format": "b64_json"})
    assert decoded(data.json()["data"][0]).startswith(PNG_OR_JPEG)


def test_open_webui_chat(gateway):
    # Connection URL `http://HOST:8000/v1`: the model list, then a streamed chat.
    models = httpx.get(f"{gateway.url}/v1/models", headers=gateway.headers()).json()["data"]
    assert {"flux-dev", "dall-e-3"} <= {m["id"] for m in models}
    messages = [{"role": "user", "content": "a heron"}]
    content = streamed_content(
        gateway, "/v1/chat/completions", {"model": "flux-dev", "messages": messages}
    )
    assert image_urls(content)


def test_cherry_studio_new_api(gateway):
    # API host `http://HOST:8000`; it adds /v1, filters models by supported_endpoint_types.
    models = httpx.get(f"{gateway.url}/v1/models", headers=gateway.headers()).json()["data"]
    painting = [m["id"] for m in models if "image-generation" in m["supported_endpoint_types"]]
    assert "flux-dev" in painting
    body = {
        "prompt": "a heron",
        "model": "flux-dev",
        "size": "1024x1024",
        "background": "auto",
        "n": 1,
        "quality": "auto",
        "moderation": "auto",
    }
    item = call(gateway, "/v1/images/generations", body).json()["data"][0]
    assert item["url"] or item["b64_json"]


def test_nextchat(gateway):
    # Endpoint `http://HOST:8000`: dall-e-3 goes to the Images API, other models to chat.
    body = {
        "model": "dall-e-3",
        "prompt": "a heron",
        "n": 1,
        "size": "1024x1024",
        "quality": "standard",
        "style": "vivid",
        "response_format": "b64_json",
    }
    assert decoded(call(gateway, "/v1/images/generations", body).json()["data"][0])
    messages = [{"role": "user", "content": "a heron"}]
    assert image_urls(
        streamed_content(
            gateway, "/v1/chat/completions", {"model": "flux-dev", "messages": messages}
        )
    )


def test_chatbox(gateway):
    # API host `http://HOST:8000`, API path `/v1/chat/completions`.
    body = {"model": "flux-dev", "messages": [{"role": "user", "content": "a heron"}]}
    assert image_urls(streamed_content(gateway, "/v1/chat/completions", body))


def test_librechat(gateway):
    # IMAGE_GEN_OAI_BASEURL=http://HOST:8000/v1; it reads only data[0].b64_json.
    body = {
        "model": "flux-dev",
        "prompt": "a heron",
        "n": 1,
        "background": "auto",
        "output_format": "png",
        "output_compression": 100,
        "quality": "auto",
        "size": "1024x1024",
    }
    assert decoded(call(gateway, "/v1/images/generations", body).json()["data"][0]).startswith(
        b"\x89PNG"
    )


def test_lobechat(gateway):
    # API proxy address `http://HOST:8000/v1`: images.generate with n 1, chat for the rest.
    item = call(
        gateway, "/v1/images/generations", {"model": "flux-dev", "prompt": "a heron", "n": 1}
    ).json()["data"][0]
    assert item["url"] or item["b64_json"]
    answer = call(
        gateway,
        "/v1/chat/completions",
        {"model": "flux-dev", "messages": [{"role": "user", "content": "a heron"}]},
    )
    assert image_urls(answer.json()["choices"][0]["message"]["content"])


def test_dify_openai_api_compatible(gateway):
    # API endpoint URL `http://HOST:8000/v1`, streaming, usage asked for.
    body = {
        "model": "flux-dev",
        "messages": [
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": "a heron"},
        ],
        "stream_options": {"include_usage": True},
    }
    assert image_urls(streamed_content(gateway, "/v1/chat/completions", body))
