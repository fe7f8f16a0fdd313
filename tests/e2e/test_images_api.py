"""The OpenAI Images API and n > 1 through real processes, called with `openai.OpenAI().images`."""

import asyncio
import base64
import secrets

import httpx
import openai
import pytest

from common.imageinfo import sniff
from common.redis import connect
from common.schemas import decode_job
from tests.e2e.test_chat_completions import image_urls, openai_env
from tests.gateway import Gateway

GENERATIONS = "/v1/images/generations"


@pytest.fixture(scope="module")
def gateway(redis_server, openai_upstream):
    server, _ = openai_upstream
    redis_server.flush()
    # A second provider serves the offline placeholder model, which honours seeds.
    env = {
        **openai_env(server.url),
        "IMAGE_GEN_MODEL_2": "placeholder",
        "IMAGE_GEN_API_BASE_2": "http://127.0.0.1:9",
        "IMAGE_GEN_API_KEY_2": "unused",
        "IMAGE_GEN_KIND_2": "placeholder",
    }
    with Gateway(redis_server.url, env).start() as gateway:
        yield gateway


def unique(prompt: str) -> str:
    """A prompt no other test sends, so the upstream calls it caused can be counted."""
    return f"{prompt} {secrets.token_hex(4)}"


def upstream_bodies(server, prompt: str) -> list[dict]:
    return [body for body in server.json_bodies(GENERATIONS) if prompt in body["prompt"]]


def test_url_answer_links_the_upstream_bytes(gateway, openai_upstream):
    server, fake = openai_upstream
    prompt = unique("a lighthouse in a storm")
    answer = gateway.client().images.generate(model="flux-dev", prompt=prompt, size="1024x576")
    [image] = answer.data
    assert image.url.startswith(f"{gateway.url}/image/") and image.url.endswith(".png")
    assert image.b64_json is None and image.revised_prompt == prompt
    assert answer.created > 0
    served = httpx.get(image.url)
    assert served.status_code == 200 and served.content == fake.produced[-1]
    assert (sniff(served.content).width, sniff(served.content).height) == (1024, 576)
    [body] = upstream_bodies(server, prompt)
    assert body["n"] == 1 and body["size"] == "1024x576"


def test_b64_json_holds_exactly_the_bytes_the_upstream_made(gateway, openai_upstream):
    _, fake = openai_upstream
    answer = gateway.client().images.generate(model="flux-dev", prompt=unique("a red fox"), n=3, response_format="b64_json")
    decoded = [base64.b64decode(image.b64_json) for image in answer.data]
    assert all(image.url is None for image in answer.data)
    assert decoded == fake.produced[-3:] and len(set(decoded)) == 3


@pytest.mark.parametrize(
    ("model", "size", "pixels"),
    [
        ("flux-dev", "512x768", (512, 768)),
        ("flux-dev", "auto", (1024, 1024)),
        ("dall-e-3", "1024x1792", (1024, 1792)),
        ("dall-e-3", "1024x768", (1792, 1024)),  # fixed sizes: the closest in aspect
    ],
)
def test_sizes_are_honoured_or_snapped_to_what_the_model_makes(gateway, model, size, pixels):
    answer = gateway.client().images.generate(model=model, prompt=unique("a quiet harbour"), size=size)
    info = sniff(httpx.get(answer.data[0].url).content)
    assert (info.width, info.height) == pixels


@pytest.mark.parametrize(
    ("route", "model", "calls"),
    [("images", "flux-dev", [3]), ("images", "dall-e-3", [1, 1, 1]), ("chat", "flux-dev", [3]), ("chat", "dall-e-3", [1, 1, 1])],
)
def test_three_images_take_one_call_when_the_model_batches_else_one_call_each(gateway, openai_upstream, route, model, calls):
    server, fake = openai_upstream
    prompt = unique("a paper boat")
    client = gateway.client()
    if route == "images":
        urls = [image.url for image in client.images.generate(model=model, prompt=prompt, n=3).data]
    else:
        answer = client.chat.completions.create(model=model, messages=[{"role": "user", "content": prompt}], extra_body={"n": 3})
        urls = image_urls(answer.choices[0].message.content)
    assert sorted(body["n"] for body in upstream_bodies(server, prompt)) == calls
    served = [httpx.get(url).content for url in urls]
    assert len(set(urls)) == 3 and len(set(served)) == 3
    assert all(image in fake.produced for image in served)


def test_chat_shows_consecutive_seeds_only_when_the_upstream_honours_them(gateway):
    client = gateway.client()
    seeded = client.chat.completions.create(
        model="placeholder", messages=[{"role": "user", "content": "a kite"}], extra_body={"n": 3, "seed": 41}
    ).choices[0].message.content
    assert len(image_urls(seeded)) == 3 and "**🎲 Seed:** 41, 42, 43" in seeded
    unseeded = client.chat.completions.create(
        model="dall-e-3", messages=[{"role": "user", "content": unique("a kite")}], extra_body={"n": 2, "seed": 41}
    ).choices[0].message.content
    assert len(image_urls(unseeded)) == 2 and "Seed" not in unseeded


def test_revised_prompt_is_what_the_upstream_received(gateway, openai_upstream):
    server, _ = openai_upstream
    prompt = unique("a glass city")
    answer = gateway.client().images.generate(model="flux-dev", prompt=f"{prompt} no-enhance", n=2)
    [body] = upstream_bodies(server, prompt)
    assert [image.revised_prompt for image in answer.data] == [body["prompt"], body["prompt"]] == [prompt, prompt]


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"size": "1001x1000"}, "size"),
        ({"size": "8192x8192"}, "size"),
        ({"size": "big"}, "size"),
        ({"n": 5}, "n"),
        ({"n": 0}, "n"),
        ({"response_format": "png"}, "response_format"),
        ({"prompt": ""}, "prompt"),
        ({"prompt": "x" * 4001}, "prompt"),
        ({"stream": True}, "stream"),
    ],
)
def test_bad_input_is_400_naming_the_param_and_calls_no_upstream(gateway, openai_upstream, fields, param):
    server, _ = openai_upstream
    before = len(server.requests_to(GENERATIONS))
    with pytest.raises(openai.BadRequestError) as error:
        gateway.client().images.generate(**{"model": "flux-dev", "prompt": unique("a cat"), **fields})
    assert error.value.body["param"] == param and error.value.type == "invalid_request_error"
    assert len(server.requests_to(GENERATIONS)) == before


def test_unknown_model_is_404_model_not_found(gateway):
    with pytest.raises(openai.NotFoundError) as error:
        gateway.client().images.generate(model="dall-e-9", prompt="a cat")
    assert error.value.code == "model_not_found" and error.value.body["param"] == "model"


def test_a_failing_provider_is_502_that_the_sdk_does_not_retry(gateway, openai_upstream):
    server, _ = openai_upstream
    prompt = unique("__500__ a storm")
    retrying = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.key, max_retries=2)
    with pytest.raises(openai.InternalServerError) as error:
        retrying.images.generate(model="flux-dev", prompt=prompt)
    assert error.value.status_code == 502 and error.value.code == "upstream_failed"
    assert error.value.response.headers["x-should-retry"] == "false"
    assert len(upstream_bodies(server, prompt)) == 1  # paid once, not three times
    assert server.url.removeprefix("http://") not in error.value.message and "sk-upstream" not in error.value.message


def test_an_upstream_safety_refusal_is_400(gateway):
    with pytest.raises(openai.BadRequestError) as error:
        gateway.client().images.generate(model="dall-e-3", prompt=unique("__policy__ a cat"))
    assert error.value.code == "content_policy_violation"
    assert error.value.response.headers["x-should-retry"] == "false"


def test_missing_gateway_key_is_401(gateway):
    with pytest.raises(openai.AuthenticationError) as error:
        openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="wrong", max_retries=0).images.generate(prompt="a cat")
    assert error.value.code == "invalid_api_key"


def test_a_retry_with_the_same_idempotency_key_gets_the_same_images(gateway, openai_upstream):
    server, _ = openai_upstream
    prompt = unique("a slow river")
    client = gateway.client()
    headers = {"Idempotency-Key": secrets.token_hex(8)}
    first = client.images.generate(model="flux-dev", prompt=prompt, n=2, extra_headers=headers)
    again = client.images.generate(model="flux-dev", prompt=prompt, n=2, extra_headers=headers)
    assert [image.url for image in first.data] == [image.url for image in again.data]
    assert len(upstream_bodies(server, prompt)) == 1


# An enhancement LLM is configured, so only the route's choice decides whether it runs.
ENHANCER = {"ENHANCE_OPENAI_API_KEY": "sk-llm", "ENHANCE_OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
ENHANCE_BODIES = [
    {"prompt": "a cat, unspecified"},
    {"prompt": "a cat, asked for", "enhance": True},
    {"prompt": "a cat, refused", "enhance": False},
]


@pytest.mark.parametrize(("setting", "expected"), [("false", [False, True, False]), ("true", [True, True, False])])
async def test_enhancement_runs_when_the_body_or_else_the_setting_asks(start_gateway, setting, expected):
    # No worker runs: each job is read from the queue while its request waits, then times out.
    gateway = start_gateway({**ENHANCER, "ENHANCE_IMAGES_API": setting, "REQUEST_TIMEOUT": "2"}, workers=0)
    redis = connect(gateway.env["REDIS_URL"])
    async with httpx.AsyncClient(base_url=gateway.url, headers=gateway.headers(), timeout=30) as client:
        answers = asyncio.gather(*(client.post(GENERATIONS, json=body) for body in ENHANCE_BODIES))
        try:
            while await redis.zcard(redis.default_queue_name) < len(ENHANCE_BODIES):
                await asyncio.sleep(0.02)
            jobs = [decode_job(job.args[0]) for job in await redis.queued_jobs()]
        finally:
            statuses = [answer.status_code for answer in await answers]
            await redis.aclose()
    assert statuses == [504] * len(ENHANCE_BODIES)
    enhance = {job.prompt: job.enhance for job in jobs}
    assert [enhance[body["prompt"]] for body in ENHANCE_BODIES] == expected
