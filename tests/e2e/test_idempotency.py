"""Idempotency-Key: a retry attaches to the first job instead of paying the upstream twice."""

import asyncio

import httpx
import openai
import pytest

from tests.e2e.test_chat_completions import image_urls, openai_env
from tests.e2e.test_edits import png

CHAT = "/v1/chat/completions"


def request(prompt: str, **extra) -> dict:
    return {"model": "flux-dev", "messages": [{"role": "user", "content": prompt}], **extra}


@pytest.fixture
def gateway(start_gateway, openai_upstream):
    server, _ = openai_upstream
    server.clear()
    return start_gateway(openai_env(server.url))


async def test_a_retry_during_the_job_gets_the_same_image_and_one_upstream_call(
    gateway, openai_upstream
):
    server, _ = openai_upstream
    headers = {**gateway.headers(), "Idempotency-Key": "retry-1"}
    async with httpx.AsyncClient(base_url=gateway.url, headers=headers, timeout=30) as client:
        first = asyncio.create_task(client.post(CHAT, json=request("__slow:1__ a slow boat")))
        while not server.requests_to("/v1/images/generations"):
            await asyncio.sleep(0.02)
        retry = await client.post(CHAT, json=request("__slow:1__ a slow boat"))
        original = await first
    assert original.status_code == retry.status_code == 200
    assert image_urls(original.json()["choices"][0]["message"]["content"]) == image_urls(
        retry.json()["choices"][0]["message"]["content"]
    )
    assert len(server.requests_to("/v1/images/generations")) == 1


def test_a_streaming_retry_after_the_job_replays_its_answer(gateway, openai_upstream):
    server, _ = openai_upstream
    client = gateway.client()
    first = client.chat.completions.create(
        **request("a red boat", stream=True), extra_headers={"Idempotency-Key": "retry-2"}
    )
    first_content = "".join(c.choices[0].delta.content or "" for c in first if c.choices)
    again = client.chat.completions.create(
        **request("a red boat", stream=True), extra_headers={"Idempotency-Key": "retry-2"}
    )
    again_content = "".join(c.choices[0].delta.content or "" for c in again if c.choices)
    assert image_urls(first_content) == image_urls(again_content)
    assert len(server.requests_to("/v1/images/generations")) == 1


def test_the_same_key_with_another_body_is_422(gateway):
    client = gateway.client()
    client.chat.completions.create(
        **request("a green boat"), extra_headers={"Idempotency-Key": "retry-3"}
    )
    with pytest.raises(openai.UnprocessableEntityError) as error:
        client.chat.completions.create(
            **request("a blue boat"), extra_headers={"Idempotency-Key": "retry-3"}
        )
    assert error.value.code == "idempotency_key_reused"


def test_a_failed_job_frees_its_key(gateway, openai_upstream):
    server, _ = openai_upstream
    headers = {**gateway.headers(), "Idempotency-Key": "retry-4"}
    failing = request("__policy__ a boat")
    first = httpx.post(f"{gateway.url}{CHAT}", json=failing, headers=headers, timeout=30)
    assert first.status_code == 400 and first.json()["error"]["code"] == "content_policy_violation"
    second = httpx.post(f"{gateway.url}{CHAT}", json=failing, headers=headers, timeout=30)
    assert second.status_code == 400
    assert len(server.requests_to("/v1/images/generations")) == 2  # a fresh try, not a replay


def test_an_edit_retried_with_its_key_is_the_same_job_and_another_image_is_422(
    start_gateway, openai_upstream
):
    """Edits compare their images, not the multipart body (its boundary differs each time)."""
    server, _ = openai_upstream
    server.clear()
    env = {**openai_env(server.url), "IMAGE_GEN_MODEL_1": "gpt-image-1"}
    client = start_gateway(env).client()
    key = {"Idempotency-Key": "edit-1"}

    def edit(image: bytes):
        return client.images.edit(
            model="gpt-image-1",
            image=("in.png", image, "image/png"),
            prompt="make it night",
            extra_headers=key,
        )

    first, again = edit(png(64, 64, (0, 0, 255))), edit(png(64, 64, (0, 0, 255)))
    assert first.data[0].b64_json == again.data[0].b64_json
    assert len(server.requests_to("/v1/images/edits")) == 1
    with pytest.raises(openai.UnprocessableEntityError) as error:
        edit(png(64, 64, (255, 0, 0)))
    assert error.value.code == "idempotency_key_reused"
