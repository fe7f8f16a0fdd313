"""HTTP rules a client notices: forwarded headers only from a trusted proxy, HEAD on GET
routes, the OpenAI routes without /v1, and the chat fields the SDKs expect."""

import json
import time

import httpx
import openai
import pytest

from tests.e2e.test_chat_completions import image_urls, openai_env

FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "images.example.com"}


def chat(gateway, path: str = "/v1/chat/completions", **extra) -> httpx.Response:
    body = {"model": "placeholder", "messages": [{"role": "user", "content": "a fox"}], **extra}
    return httpx.post(
        gateway.url + path, json=body, headers={**gateway.headers(), **FORWARDED}, timeout=30
    )


@pytest.mark.parametrize("trusted", [False, True], ids=["ignored", "trusted"])
def test_forwarded_headers_count_only_with_trust_proxy_headers(start_gateway, trusted):
    gateway = start_gateway({"TRUST_PROXY_HEADERS": "true"} if trusted else {})
    [url] = image_urls(chat(gateway).json()["choices"][0]["message"]["content"])
    if trusted:
        assert url.startswith("https://images.example.com/image/")
    else:  # uvicorn's own handling would have made it https for a client on 127.0.0.1
        assert url.startswith(f"{gateway.url}/image/")


@pytest.fixture(scope="module")
def gateway():
    from imagegate.redis_server import RedisProcess
    from tests.gateway import Gateway

    with RedisProcess() as redis, Gateway(redis.url).start() as started:
        yield started


def test_every_get_route_answers_head(gateway):
    image = image_urls(chat(gateway).json()["choices"][0]["message"]["content"])[0]
    for path, headers in (
        ("/health", {}),
        ("/v1/health", {}),
        ("/", {}),
        ("/v1/models", gateway.headers()),
        ("/models/placeholder", gateway.headers()),
        ("/schema/openapi.json", {}),
        ("/metrics", {}),
        (image.removeprefix(gateway.url), {}),
    ):
        got = httpx.get(gateway.url + path, headers=headers)
        head = httpx.head(gateway.url + path, headers=headers)
        assert (head.status_code, head.content) == (got.status_code, b""), path
        assert head.headers["content-type"] == got.headers["content-type"], path


def test_the_openai_routes_answer_without_v1(gateway):
    client = openai.OpenAI(base_url=gateway.url, api_key=gateway.key, max_retries=0)
    assert [m.id for m in client.models.list()] == ["placeholder"]
    assert client.models.retrieve("placeholder").id == "placeholder"
    answer = client.chat.completions.create(
        model="placeholder", messages=[{"role": "user", "content": "a fox"}]
    )
    assert "![" in answer.choices[0].message.content
    assert client.images.generate(model="placeholder", prompt="a fox").data


def test_the_chat_message_carries_refusal_null(gateway):
    message = chat(gateway).json()["choices"][0]["message"]
    assert "refusal" in message and message["refusal"] is None


def stream_chunks(gateway, **extra) -> list[dict]:
    body = {
        "model": "placeholder",
        "messages": [{"role": "user", "content": "a fox"}],
        "stream": True,
        **extra,
    }
    with httpx.stream(
        "POST", f"{gateway.url}/v1/chat/completions", json=body, headers=gateway.headers()
    ) as response:
        lines = [line for line in response.iter_lines() if line.startswith("data: {")]
    return [json.loads(line[6:]) for line in lines]


def test_stream_usage_only_with_include_usage(gateway):
    assert not any("usage" in chunk for chunk in stream_chunks(gateway))
    *others, last = stream_chunks(gateway, stream_options={"include_usage": True})
    assert all(chunk["usage"] is None for chunk in others)
    assert last["choices"] == [] and last["usage"]["total_tokens"] >= 0
    sdk = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.key, max_retries=0)
    chunks = list(
        sdk.chat.completions.create(
            model="placeholder",
            messages=[{"role": "user", "content": "a fox"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[-1].usage is not None and all(c.usage is None for c in chunks[:-1])


def test_models_say_which_endpoints_they_serve(start_gateway):
    gateway = start_gateway(openai_env("http://127.0.0.1:9"), workers=0)
    models = httpx.get(f"{gateway.url}/v1/models", headers=gateway.headers()).json()["data"]
    assert {m["id"]: m["supported_endpoint_types"] for m in models} == {
        "flux-dev": ["image-generation", "image-edit"],
        "dall-e-3": ["image-generation"],  # the openai kind's dall-e-3 does not edit
    }


@pytest.mark.parametrize(
    ("path", "route"),
    [
        ("/v1/chat", "/v1/chat/completions"),
        ("/api/v1/chat/completions", "/v1/chat/completions"),
        ("/v1/chat/completion", "/v1/chat/completions"),
        ("/v1/v1/images/generations", "/v1/images/generations"),
        ("/v1/image/generations", "/v1/images/generations"),
    ],
)
def test_a_wrong_path_near_an_openai_route_names_it(gateway, path, route):
    response = httpx.post(gateway.url + path, json={}, headers=gateway.headers())
    assert response.status_code == 404
    assert f"the route is {route}" in response.json()["error"]["message"]


def test_a_stream_answers_its_head_before_its_first_event(start_gateway, openai_upstream):
    """A response's head waits to go out with its first body bytes, but never for an event
    that is still being made: a client (or a proxy with a header timeout) sees the 200 at once."""
    server, _ = openai_upstream
    gateway = start_gateway(openai_env(server.url))
    body = {"model": "flux-dev", "prompt": "a slow heron __slow:2__", "stream": True}
    started = time.monotonic()
    with httpx.stream(
        "POST",
        f"{gateway.url}/v1/images/generations",
        json=body,
        headers=gateway.headers(),
        timeout=30,
    ) as response:
        head_after = time.monotonic() - started
        events = response.read()
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert head_after < 1.0 < time.monotonic() - started
    assert b"event: image_generation.completed" in events
