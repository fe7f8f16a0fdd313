"""The whole path through real processes: openai SDK → api → Redis → worker → fake OpenAI Images."""

import time

import httpx
import openai
import pytest

from tests.gateway import Gateway

PROMPT = "a lighthouse in a storm"


def openai_env(upstream_url: str, keys: str = "sk-upstream-good") -> dict[str, str]:
    return {
        "IMAGE_GEN_MODEL_1": "flux-dev,dall-e-3",
        "IMAGE_GEN_API_BASE_1": f"{upstream_url}/v1",
        "IMAGE_GEN_API_KEY_1": keys,
        "IMAGE_GEN_KIND_1": "openai",
    }


@pytest.fixture(scope="module")
def gateway(redis_server, openai_upstream):
    server, _ = openai_upstream
    redis_server.flush()
    with Gateway(redis_server.url, openai_env(server.url)).start() as gateway:
        yield gateway


def image_urls(markdown: str) -> list[str]:
    return [part.split(")")[0] for part in markdown.split("](")[1:]]


def test_non_stream_answer_links_the_upstream_bytes(gateway, openai_upstream):
    _, fake = openai_upstream
    answer = gateway.client().chat.completions.create(
        model="flux-dev", messages=[{"role": "user", "content": PROMPT}]
    )
    content = answer.choices[0].message.content
    assert answer.object == "chat.completion" and answer.choices[0].finish_reason == "stop"
    [url] = image_urls(content)
    assert url.startswith(f"{gateway.url}/image/") and url.endswith(".png")
    image = httpx.get(url)
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.content == fake.produced[-1]
    assert image.headers["x-content-type-options"] == "nosniff"
    assert image.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert image.headers["cache-control"].startswith("public, max-age=")
    assert httpx.get(url, headers={"If-None-Match": image.headers["etag"]}).status_code == 304
    assert "**📐 Resolution:** 1024×1024" in content and f"**📝 Prompt:**\n{PROMPT}" in content


def test_stream_parses_in_the_sdk_and_ends_with_the_answer(gateway, openai_upstream):
    _, fake = openai_upstream
    chunks = list(
        gateway.client().chat.completions.create(
            model="flux-dev",
            messages=[{"role": "user", "content": [{"type": "text", "text": PROMPT}]}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    assert len({chunk.id for chunk in chunks}) == 1
    reasoning = "".join(
        getattr(c.choices[0].delta, "reasoning_content", None) or "" for c in chunks if c.choices
    )
    assert (
        "Queued" in reasoning and "Generating an image with flux-dev via image-gen-1" in reasoning
    )
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    [url] = image_urls(content)
    assert httpx.get(url).content == fake.produced[-1]
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 0


def test_raw_stream_is_sse_ending_in_done(gateway):
    body = {"model": "flux-dev", "messages": [{"role": "user", "content": PROMPT}], "stream": True}
    with httpx.stream(
        "POST",
        f"{gateway.url}/v1/chat/completions",
        json=body,
        headers=gateway.headers(),
        timeout=30,
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        raw = response.read().decode()
    events = raw.split("\n\n")
    assert events[-2] == "data: [DONE]" and events[-1] == ""
    assert all(event.startswith(("data: ", ": ping")) for event in events[:-1])


def test_answers_never_reveal_the_upstream(gateway, openai_upstream):
    server, _ = openai_upstream
    host = server.url.removeprefix("http://")
    client = gateway.client()
    answer = client.chat.completions.create(
        model="flux-dev", messages=[{"role": "user", "content": PROMPT}]
    )
    failing = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={
            "model": "flux-dev",
            "messages": [{"role": "user", "content": "__badmodel__ " + PROMPT}],
        },
        headers=gateway.headers(),
        timeout=30,
    )
    assert (
        failing.status_code == 502 and failing.json()["error"]["code"] == "upstream_misconfigured"
    )
    for text in (answer.model_dump_json(), failing.text):
        assert host not in text and "sk-upstream-good" not in text


def test_missing_and_wrong_gateway_keys_are_401(gateway):
    with pytest.raises(openai.AuthenticationError) as wrong:
        openai.OpenAI(
            base_url=f"{gateway.url}/v1", api_key="not-the-key", max_retries=0
        ).models.list()
    assert wrong.value.code == "invalid_api_key"
    missing = httpx.post(f"{gateway.url}/v1/chat/completions", json={"messages": []})
    assert missing.status_code == 401
    assert missing.json() == {
        "error": {
            "message": missing.json()["error"]["message"],
            "type": "authentication_error",
            "param": None,
            "code": "missing_api_key",
        }
    }


def test_unknown_model_is_404(gateway):
    with pytest.raises(openai.NotFoundError) as error:
        gateway.client().chat.completions.create(
            model="no-such-model", messages=[{"role": "user", "content": PROMPT}]
        )
    assert error.value.code == "model_not_found" and error.value.body["param"] == "model"


def test_malformed_json_is_400_in_the_openai_shape(gateway):
    response = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        content=b'{"messages": [',
        headers={**gateway.headers(), "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


def test_models_are_listed_and_found_by_id(gateway):
    client = gateway.client()
    assert [model.id for model in client.models.list()] == ["flux-dev", "dall-e-3"]
    assert client.models.retrieve("dall-e-3").owned_by == "image-gen-1"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("dall-e-4")


def test_a_failing_key_fails_over_to_the_next(start_gateway, openai_upstream):
    server, _ = openai_upstream
    gateway = start_gateway(openai_env(server.url, keys="sk-upstream-500,sk-upstream-good"))
    server.clear()
    client = gateway.client()
    for _ in range(2):  # the rotating start puts the failing key first in one of two requests
        answer = client.chat.completions.create(
            model="flux-dev", messages=[{"role": "user", "content": PROMPT}]
        )
        assert image_urls(answer.choices[0].message.content)
    used = [r.headers["authorization"] for r in server.requests_to("/v1/images/generations")]
    assert sorted(used) == [
        "Bearer sk-upstream-500",
        "Bearer sk-upstream-good",
        "Bearer sk-upstream-good",
    ]


def test_every_key_failing_is_502_naming_the_provider(start_gateway, openai_upstream):
    server, _ = openai_upstream
    gateway = start_gateway(openai_env(server.url, keys="sk-upstream-500"))
    response = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "flux-dev", "messages": [{"role": "user", "content": PROMPT}]},
        headers=gateway.headers(),
        timeout=30,
    )
    assert response.status_code == 502 and response.headers["x-should-retry"] == "false"
    error = response.json()["error"]
    assert error["code"] == "upstream_failed" and "image-gen-1" in error["message"]
    assert "sk-upstream-500" not in response.text


def test_an_expired_image_is_a_json_404(start_gateway, openai_upstream):
    server, _ = openai_upstream
    gateway = start_gateway({**openai_env(server.url), "IMAGE_EXPIRATION": "1"})
    answer = gateway.client().chat.completions.create(
        model="flux-dev", messages=[{"role": "user", "content": PROMPT}]
    )
    [url] = image_urls(answer.choices[0].message.content)
    time.sleep(1.6)
    gone = httpx.get(url)
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"


def test_health_is_503_without_a_worker(start_gateway):
    gateway = start_gateway(workers=0)
    response = httpx.get(f"{gateway.url}/health")
    assert response.status_code == 503 and response.json()["status"] == "no_workers"
    gateway.add_worker()
    assert gateway.wait_until_healthy(1)["workers"] == 1
