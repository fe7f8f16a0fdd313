"""Bad input is a 400 in the OpenAI shape naming the `param`, before anything is enqueued.

In process (Litestar's AsyncTestClient): no worker is needed to refuse a request."""

import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from common.config.load import load_settings

KEY = "ig-test-key"
HEADERS = {"Authorization": f"Bearer {KEY}"}
USER = [{"role": "user", "content": "a teapot"}]


@pytest.fixture(scope="module")
async def client(redis_server):
    settings = load_settings({"GATEWAY_API_KEY": KEY, "REDIS_URL": redis_server.url})
    async with AsyncTestClient(create_app(settings)) as client:
        yield client


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": USER, "n": 0}, "n"),
        ({"messages": USER, "n": 5}, "n"),
        ({"messages": USER, "n": "many"}, "n"),
        ({"messages": USER, "width": 1024}, "height"),
        ({"messages": USER, "height": 1024}, "width"),
        ({"messages": USER, "width": 4104, "height": 1024}, "width"),
        ({"messages": USER, "width": 1020, "height": 1024}, "width"),
        ({"messages": USER, "size": "big"}, "size"),
        ({"messages": USER, "size": "1024x5000"}, "size"),
        ({"messages": USER, "size": "1001x1001"}, "size"),
        ({"messages": USER, "seed": -1}, "seed"),
        ({"messages": USER, "seed": 2**32}, "seed"),
        ({"messages": USER, "steps": 0}, "steps"),
        ({"messages": USER, "cfg": 31}, "cfg"),
        ({"messages": USER, "negative_prompt": "x" * 4001}, "negative_prompt"),
        ({"messages": [{"role": "user", "content": "x" * 4001}]}, "prompt"),
        ({"messages": [{"role": "user", "content": "   "}]}, "messages"),
        ({"messages": [{"role": "system", "content": "only a system message"}]}, "messages"),
        ({"messages": "a teapot"}, "messages"),
        ({"messages": [{"content": "no role"}]}, "messages[0].role"),
        ({"messages": USER, "stream": "sometimes"}, "stream"),
        ({"messages": USER, "model": 42}, "model"),
    ],
)
async def test_invalid_fields_are_400_naming_the_param(client, body, param):
    response = await client.post("/v1/chat/completions", json=body, headers=HEADERS)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param
    assert set(error) == {"message", "type", "param", "code"}


async def test_a_body_over_one_megabyte_is_413(client):
    body = b'{"messages": [{"role": "user", "content": "' + b"x" * 1_100_000 + b'"}]}'
    response = await client.post(
        "/v1/chat/completions",
        content=body,
        headers={**HEADERS, "content-type": "application/json"},
    )
    assert response.status_code == 413 and response.json()["error"]["code"] == "request_too_large"


async def test_unknown_routes_and_methods_answer_in_the_openai_shape(client):
    missing = await client.get("/v1/nothing-here")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    wrong = await client.put("/v1/chat/completions", headers=HEADERS)
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "method_not_allowed"


async def test_rejected_requests_enqueue_nothing(client, redis):
    await client.post("/v1/chat/completions", json={"messages": USER, "n": 9}, headers=HEADERS)
    assert await redis.zcard("arq:queue") == 0


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ({"n": 5}, "n must be at most 4 (the most images one request makes)"),
        ({"n": 0}, "n must be at least 1"),
        ({"n": "many"}, "n must be an integer, not a string"),
        ({"stream": "sometimes"}, "stream must be true or false, not a string"),
    ],
)
async def test_errors_say_the_limit_in_words_not_the_parsers(client, field, message):
    response = await client.post(
        "/v1/chat/completions", json={"messages": USER, **field}, headers=HEADERS
    )
    assert response.json()["error"]["message"] == message
    assert "Expected" not in response.text and "`" not in response.text
