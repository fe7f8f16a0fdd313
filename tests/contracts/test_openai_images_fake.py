"""Contract tests of the fake OpenAI Images API and of the fake-server harness."""

import base64
import struct
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from aiohttp import web

from tests.fakes.openai_images import GENERATIONS, OpenAIImagesFake, start_openai_images
from tests.fakes.payloads import HUGE_SIZE
from tests.fakes.server import FakeServer
from worker.render.png import PNG_SIGNATURE

GOOD = "sk-good-0000000011112222"
KEY_BEHAVIOUR = {
    "key-ratelimited": "rate_limited",
    "key-500": "server_error",
    "key-quota": "insufficient_quota",
}


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[FakeServer, OpenAIImagesFake]]:
    server, fake = start_openai_images(valid_keys=[GOOD], key_behaviour=KEY_BEHAVIOUR)
    with server:
        yield server, fake


@pytest.fixture(scope="module")
def client(upstream: tuple[FakeServer, OpenAIImagesFake]) -> Iterator[httpx.Client]:
    server, _ = upstream
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


@pytest.fixture
def fake(upstream: tuple[FakeServer, OpenAIImagesFake]) -> OpenAIImagesFake:
    return upstream[1]


def generate(client: httpx.Client, key: str | None = GOOD, **body: object) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return client.post(GENERATIONS, json=body, headers=headers)


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(PNG_SIGNATURE)
    return struct.unpack(">II", data[16:24])


def assert_error(
    response: httpx.Response, status: int, type: str, code: str | None, param: str | None = None
) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["type"], error["code"], error["param"]) == (type, code, param)
    assert error["message"]
    return error


def test_dall_e_2_answers_a_url_to_the_exact_bytes(client: httpx.Client, fake) -> None:
    response = generate(client, prompt="a red fox", size="512x512")
    assert response.status_code == 200
    assert response.headers["x-request-id"].startswith("req_")
    body = response.json()
    assert isinstance(body["created"], int) and "usage" not in body
    [item] = body["data"]
    assert set(item) == {"url"} and "sig=" in item["url"] and "se=" in item["url"]
    download = httpx.get(item["url"])
    assert download.status_code == 200
    assert download.headers["content-type"] == "image/png"
    assert download.content == fake.produced[-1]
    assert png_size(download.content) == (512, 512)


def test_b64_json_gives_distinct_pngs_of_the_asked_size(client: httpx.Client, fake) -> None:
    response = generate(client, prompt="p", n=3, size="256x256", response_format="b64_json")
    images = [base64.b64decode(item["b64_json"]) for item in response.json()["data"]]
    assert images == fake.produced[-3:]
    assert len(set(images)) == 3
    assert all(png_size(image) == (256, 256) for image in images)


def test_dall_e_3_revises_the_prompt_and_takes_only_n_1(client: httpx.Client) -> None:
    response = generate(client, prompt="a cat", model="dall-e-3", size="1792x1024")
    [item] = response.json()["data"]
    assert "a cat" in item["revised_prompt"] and "url" in item
    assert_error(
        generate(client, prompt="a cat", model="dall-e-3", n=2),
        400,
        "invalid_request_error",
        "invalid_value",
        "n",
    )


def test_gpt_image_answers_b64_with_usage_and_auto_size(client: httpx.Client, fake) -> None:
    body = generate(client, prompt="a dog", model="gpt-image-1", size="auto").json()
    [item] = body["data"]
    assert base64.b64decode(item["b64_json"]) == fake.produced[-1]
    assert png_size(fake.produced[-1]) == (1024, 1024)
    assert body["usage"]["total_tokens"] > 0


def test_gpt_image_rejects_response_format(client: httpx.Client) -> None:
    response = generate(client, prompt="p", model="gpt-image-1", response_format="b64_json")
    error = assert_error(
        response, 400, "invalid_request_error", "unknown_parameter", "response_format"
    )
    assert error["message"] == "Unknown parameter: 'response_format'."


@pytest.mark.parametrize(
    ("model", "size"),
    [
        ("dall-e-2", "1792x1024"),
        ("dall-e-3", "512x512"),
        ("gpt-image-1", "1792x1024"),
        ("flux-dev", "770x512"),
        ("flux-dev", "8192x8192"),
        ("flux-dev", "big"),
    ],
)
def test_a_size_the_model_does_not_take_is_a_400(client: httpx.Client, model, size) -> None:
    assert_error(
        generate(client, prompt="p", model=model, size=size),
        400,
        "invalid_request_error",
        "invalid_value",
        "size",
    )


def test_other_models_take_any_multiple_of_8(client: httpx.Client, fake) -> None:
    response = generate(client, prompt="p", model="flux-dev", size="768x512")
    assert response.status_code == 200
    assert png_size(httpx.get(response.json()["data"][0]["url"]).content) == (768, 512)


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"size": "256x256"}, "prompt", "missing_required_parameter"),
        ({"prompt": "p", "steps": 4}, "steps", "unknown_parameter"),
        ({"prompt": "p", "n": 11}, "n", "integer_above_max_value"),
        ({"prompt": "p", "n": 0}, "n", "integer_below_min_value"),
        ({"prompt": "x" * 1001}, "prompt", "string_above_max_length"),
        ({"prompt": "p", "response_format": "jpeg"}, "response_format", "invalid_value"),
    ],
)
def test_invalid_requests_are_400s(client: httpx.Client, body, param, code) -> None:
    assert_error(generate(client, **body), 400, "invalid_request_error", code, param)


def test_a_body_that_is_not_json_is_a_400(client: httpx.Client) -> None:
    response = client.post(
        GENERATIONS, content=b"{nope", headers={"Authorization": f"Bearer {GOOD}"}
    )
    assert_error(response, 400, "invalid_request_error", None)


@pytest.mark.parametrize(
    "body",
    [
        {"prompt": "p", "model": "dall-e-9"},
        {"prompt": "__badmodel__", "model": "dall-e-2"},
    ],
)
def test_an_unknown_model_is_a_404(client: httpx.Client, body) -> None:
    error = assert_error(generate(client, **body), 404, "invalid_request_error", "model_not_found")
    assert error["message"] == f"The model `{body['model']}` does not exist."


@pytest.mark.parametrize("key", [None, "sk-wrong-key-123456789"])
def test_a_missing_or_unknown_key_is_a_401(client: httpx.Client, key) -> None:
    error = assert_error(
        generate(client, key, prompt="p"), 401, "invalid_request_error", "invalid_api_key"
    )
    assert "sk-wrong-key-123456789" not in error["message"]


def test_incorrect_key_message_masks_the_key(client: httpx.Client) -> None:
    error = generate(client, "sk-wrong-key-123456789", prompt="p").json()["error"]
    assert error["message"] == "Incorrect API key provided: sk-...6789."


@pytest.mark.parametrize(
    ("word", "status", "type", "code"),
    [
        ("__500__", 500, "server_error", None),
        ("__503__", 503, "server_error", None),
        ("__429__", 429, "requests", "rate_limit_exceeded"),
        ("__quota__", 429, "insufficient_quota", "insufficient_quota"),
        ("__403__", 403, "request_forbidden", "unsupported_country_region_territory"),
        ("__moderation__", 400, "image_generation_user_error", "moderation_blocked"),
        ("__policy__", 400, "invalid_request_error", "content_policy_violation"),
    ],
)
def test_magic_words_fail_like_openai(client: httpx.Client, word, status, type, code) -> None:
    response = generate(client, prompt=f"a {word} b")
    assert_error(response, status, type, code)
    assert response.headers.get("retry-after") == ("7" if word == "__429__" else None)


def test_server_error_body_is_exact(client: httpx.Client) -> None:
    assert generate(client, prompt="__500__").json() == {
        "error": {
            "message": "The server had an error while processing your request.",
            "type": "server_error",
            "param": None,
            "code": None,
        }
    }


@pytest.mark.parametrize(
    ("key", "status", "code"),
    [
        ("key-ratelimited", 429, "rate_limit_exceeded"),
        ("key-500", 500, None),
        ("key-quota", 429, "insufficient_quota"),
    ],
)
def test_key_behaviours_fail_that_key_only(client: httpx.Client, key, status, code) -> None:
    response = generate(client, key, prompt="p")
    assert response.status_code == status and response.json()["error"]["code"] == code
    assert generate(client, prompt="p").status_code == 200


def test_html403_answers_a_cloudflare_challenge_page(client: httpx.Client) -> None:
    response = generate(client, prompt="__html403__")
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert "Just a moment..." in response.text


def test_slow_sleeps_before_answering(client: httpx.Client) -> None:
    started = time.monotonic()
    assert generate(client, prompt="__slow:0.3__ a fox").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_huge_answers_more_than_20_mb(client: httpx.Client, fake) -> None:
    response = generate(client, prompt="__huge__", response_format="b64_json")
    image = base64.b64decode(response.json()["data"][0]["b64_json"])
    assert len(image) > HUGE_SIZE > 20 * 1024 * 1024
    assert image.startswith(PNG_SIGNATURE) and image == fake.produced[-1]


@pytest.mark.parametrize("response_format", ["url", "b64_json"])
def test_notimage_answers_html_bytes(client: httpx.Client, response_format) -> None:
    item = generate(client, prompt="__notimage__", response_format=response_format).json()
    item = item["data"][0]
    data = (
        base64.b64decode(item["b64_json"]) if "b64_json" in item else httpx.get(item["url"]).content
    )
    assert data.startswith(b"<!DOCTYPE html>")


def test_unknown_files_are_404(client: httpx.Client) -> None:
    assert client.get("/files/img-nope.png").status_code == 404


def test_requests_are_recorded(upstream, client: httpx.Client) -> None:
    server, _ = upstream
    server.clear()
    generate(client, prompt="recorded", size="256x256")
    client.get("/files/img-nope.png?sig=abc")
    post, get = server.requests
    assert (post.method, post.path, post.query) == ("POST", GENERATIONS, {})
    assert post.headers["authorization"] == f"Bearer {GOOD}"
    assert post.headers["content-type"] == "application/json"
    assert post.json == {"prompt": "recorded", "size": "256x256"}
    assert (get.method, get.query, get.json, get.body) == ("GET", {"sig": "abc"}, None, b"")
    assert server.json_bodies(GENERATIONS) == [{"prompt": "recorded", "size": "256x256"}]
    server.clear()
    assert server.requests == []


def test_the_harness_starts_fast_and_leaks_no_thread() -> None:
    before = set(threading.enumerate())
    started = time.monotonic()
    server = FakeServer(OpenAIImagesFake().app()).start()
    assert time.monotonic() - started < 0.2
    with httpx.Client() as client:
        # A request still sleeping upstream must not hold up stop().
        with pytest.raises(httpx.ReadTimeout):
            client.post(
                f"{server.url}{GENERATIONS}",
                json={"prompt": "__slow:30__"},
                headers={"Authorization": "Bearer sk-fake-valid"},
                timeout=0.1,
            )
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 1
    assert set(threading.enumerate()) == before
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url)


async def test_the_harness_serves_async_tests() -> None:
    async def hello(request: web.Request) -> web.Response:
        return web.json_response({"hello": "world"})

    app = web.Application()
    app.router.add_get("/hello", hello)
    async with FakeServer(app) as server, httpx.AsyncClient() as client:
        response = await client.get(f"{server.url}/hello", params={"a": "1"})
        assert response.json() == {"hello": "world"}
        assert server.requests[0].query == {"a": "1"}


def test_the_openai_sdk_reads_the_fake(upstream, fake) -> None:
    openai = pytest.importorskip("openai")
    base_url = f"{upstream[0].url}/v1"
    with openai.OpenAI(api_key=GOOD, base_url=base_url, max_retries=0) as sdk:
        result = sdk.images.generate(prompt="p", model="gpt-image-1", size="1024x1536")
        assert base64.b64decode(result.data[0].b64_json) == fake.produced[-1]
        assert result.usage is not None and result.usage.total_tokens > 0
        with pytest.raises(openai.RateLimitError) as raised:
            sdk.images.generate(prompt="__quota__")
        assert raised.value.code == "insufficient_quota"
        with pytest.raises(openai.BadRequestError) as raised:
            sdk.images.generate(prompt="__moderation__", model="dall-e-3")
        assert raised.value.code == "moderation_blocked"
    with openai.OpenAI(api_key="sk-nope-000000000", base_url=base_url) as sdk:
        with pytest.raises(openai.AuthenticationError):
            sdk.images.generate(prompt="p")
