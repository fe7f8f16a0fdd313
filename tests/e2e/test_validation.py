"""Bad input is a 400 in the OpenAI shape naming the `param`, before anything is enqueued."""

import re

import httpx
import pytest

from tests.gateway import Gateway

USER = [{"role": "user", "content": "a teapot"}]


@pytest.fixture(scope="module")
def gateway(redis_server):
    redis_server.flush()
    with Gateway(redis_server.url).start() as gateway:
        yield gateway


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
def test_invalid_fields_are_400_naming_the_param(gateway, body, param):
    response = httpx.post(
        f"{gateway.url}/v1/chat/completions", json=body, headers=gateway.headers()
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param
    assert set(error) == {"message", "type", "param", "code"}


def test_a_body_over_one_megabyte_is_413(gateway):
    body = b'{"messages": [{"role": "user", "content": "' + b"x" * 1_100_000 + b'"}]}'
    response = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        content=body,
        headers={**gateway.headers(), "content-type": "application/json"},
    )
    assert response.status_code == 413 and response.json()["error"]["code"] == "request_too_large"


def test_unknown_routes_and_methods_answer_in_the_openai_shape(gateway):
    missing = httpx.get(f"{gateway.url}/v1/nothing-here")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    wrong = httpx.put(f"{gateway.url}/v1/chat/completions", headers=gateway.headers())
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "method_not_allowed"


def test_rejected_requests_enqueue_nothing(gateway, redis_server):
    import redis

    httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={"messages": USER, "n": 9},
        headers=gateway.headers(),
    )
    assert redis.Redis(port=redis_server.port).zcard("arq:queue") == 0


def test_image_ids_are_unguessable_and_only_stored_images_are_served(gateway):
    answer = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={"messages": USER},
        headers=gateway.headers(),
        timeout=30,
    )
    url = answer.json()["choices"][0]["message"]["content"].split("](")[1].split(")")[0]
    image_id = url.rsplit("/", 1)[1].split(".")[0]
    assert re.fullmatch(r"[0-9a-f]{32}", image_id)  # 128 random bits, hex
    for probe in ("../../etc/passwd", "0" * 32, image_id[:-1] + "g", "%2e%2e"):
        assert httpx.get(f"{gateway.url}/image/{probe}").status_code == 404
