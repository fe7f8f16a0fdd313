"""The OpenAI Images API and n > 1 through real processes, called with `openai.OpenAI().images`."""

import base64
import secrets

import httpx
import openai
import pytest

from tests.e2e.test_chat_completions import image_urls, openai_env
from tests.fakes import exacg, siliconflow
from tests.fakes.llm import COMPLETIONS, enhanced, start_llm
from tests.gateway import Gateway
from worker.upstream.sniff import sniff

GENERATIONS = "/v1/images/generations"
KOLORS = siliconflow.KOLORS
# model → (its fake, the path it is called on, how many images one call asked for)
UPSTREAMS = {
    "flux-dev": ("openai", GENERATIONS, lambda body: body["n"]),
    "dall-e-3": ("openai", GENERATIONS, lambda body: body["n"]),
    KOLORS: ("siliconflow", siliconflow.GENERATIONS, lambda body: body.get("batch_size", 1)),
    "Z-Image": ("exacg", exacg.GENERATE, lambda body: 1),
}


@pytest.fixture(scope="module")
def fakes(openai_upstream):
    started = {
        "siliconflow": siliconflow.start_siliconflow(valid_keys=["sk-sf"]),
        "exacg": exacg.start_exacg(valid_keys=["sd-key"]),
        "llm": start_llm(valid_keys=("sk-llm-good",)),
    }
    yield {"openai": openai_upstream, **started}
    for server, _ in started.values():
        server.stop()


def upstream_env(fakes) -> dict[str, str]:
    """OpenAI flux-dev (batch 4) and dall-e-3 (batch 1, no seeds), SiliconFlow Kolors (batch_size),
    exacg Z-Image (one seeded image a call), and an enhancement LLM."""
    url = {name: server.url for name, (server, _) in fakes.items()}
    return {
        **openai_env(url["openai"]),
        "IMAGE_GEN_MODEL_1": "flux-dev,dall-e-3,gpt-image-1",
        "FLUX_GEN_MODEL": KOLORS,
        "FLUX_GEN_API_BASE": f"{url['siliconflow']}/v1",
        "FLUX_GEN_API_KEY": "sk-sf",
        "SD_API_KEY": "sd-key",
        "SD_API_BASE": url["exacg"],
        "ENHANCE_OPENAI_API_KEY": "sk-llm-good",
        "ENHANCE_OPENAI_BASE_URL": f"{url['llm']}/v1",
    }


@pytest.fixture(scope="module")
def gateway(redis_server, fakes):
    redis_server.flush()
    with Gateway(redis_server.url, upstream_env(fakes)).start() as gateway:
        yield gateway


def unique(prompt: str) -> str:
    """A prompt no other test sends, so the upstream calls it caused can be counted."""
    return f"{prompt} {secrets.token_hex(4)}"


def upstream_bodies(fakes, model: str, prompt: str) -> list[dict]:
    name, path, _ = UPSTREAMS[model]
    return [body for body in fakes[name][0].json_bodies(path) if prompt in body["prompt"]]


def llm_was_asked(fakes, prompt: str) -> bool:
    return any(
        prompt.encode() in request.body for request in fakes["llm"][0].requests_to(COMPLETIONS)
    )


def test_url_answer_links_the_upstream_bytes(gateway, fakes):
    _, fake = fakes["openai"]
    prompt = unique("a lighthouse in a storm")
    answer = gateway.client().images.generate(
        model="flux-dev", prompt=prompt, size="1024x576", response_format="url"
    )
    [image] = answer.data
    assert image.url.startswith(f"{gateway.url}/image/") and image.url.endswith(".png")
    assert image.b64_json is None and image.revised_prompt == prompt
    assert answer.created > 0
    served = httpx.get(image.url)
    assert served.status_code == 200 and served.content == fake.produced[-1]
    assert (sniff(served.content).width, sniff(served.content).height) == (1024, 576)
    [body] = upstream_bodies(fakes, "flux-dev", prompt)
    assert body["n"] == 1 and body["size"] == "1024x576"


def test_b64_json_holds_exactly_the_bytes_the_upstream_made(gateway, fakes):
    _, fake = fakes["openai"]
    answer = gateway.client().images.generate(
        model="flux-dev", prompt=unique("a red fox"), n=3, response_format="b64_json"
    )
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
    answer = gateway.client().images.generate(
        model=model, prompt=unique("a quiet harbour"), size=size
    )
    info = sniff(httpx.get(answer.data[0].url).content)
    assert (info.width, info.height) == pixels


@pytest.mark.parametrize("route", ["images", "chat"])
@pytest.mark.parametrize(
    ("model", "calls"),
    [("flux-dev", [3]), (KOLORS, [3]), ("dall-e-3", [1, 1, 1]), ("Z-Image", [1, 1, 1])],
)
def test_three_images_take_one_call_when_the_upstream_batches_else_one_call_each(
    gateway, fakes, route, model, calls
):
    prompt = unique("a paper boat")
    client = gateway.client()
    if route == "images":
        urls = [image.url for image in client.images.generate(model=model, prompt=prompt, n=3).data]
    else:
        answer = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": prompt}], extra_body={"n": 3}
        )
        urls = image_urls(answer.choices[0].message.content)
    name, _, images_asked = UPSTREAMS[model]
    assert sorted(images_asked(body) for body in upstream_bodies(fakes, model, prompt)) == calls
    served = [httpx.get(url).content for url in urls]
    assert len(set(urls)) == 3 and len(set(served)) == 3
    assert all(image in fakes[name][1].produced for image in served)


def test_seeds_run_seed_seed_plus_one_and_show_only_when_the_upstream_honours_them(gateway, fakes):
    client = gateway.client()
    prompt = unique("a kite")
    seeded = (
        client.chat.completions.create(
            model="Z-Image",
            messages=[{"role": "user", "content": prompt}],
            extra_body={"n": 3, "seed": 41},
        )
        .choices[0]
        .message.content
    )
    assert sorted(body["seed"] for body in upstream_bodies(fakes, "Z-Image", prompt)) == [
        41,
        42,
        43,
    ]
    assert len(image_urls(seeded)) == 3 and "**🎲 Seed:** 41, 42, 43" in seeded
    unseeded = (
        client.chat.completions.create(
            model="dall-e-3",
            messages=[{"role": "user", "content": unique("a kite")}],
            extra_body={"n": 2, "seed": 41},
        )
        .choices[0]
        .message.content
    )
    assert len(image_urls(unseeded)) == 2 and "Seed" not in unseeded


def test_without_enhancement_revised_prompt_is_the_prompt_the_upstream_received(gateway, fakes):
    prompt = unique("a glass city")
    answer = gateway.client().images.generate(model="flux-dev", prompt=f"{prompt} no-enhance", n=2)
    [body] = upstream_bodies(fakes, "flux-dev", prompt)
    assert (
        [image.revised_prompt for image in answer.data]
        == [body["prompt"], body["prompt"]]
        == [prompt, prompt]
    )


def test_enhancement_runs_only_when_the_request_asks(gateway, fakes):
    client = gateway.client()
    plain, asked = unique("a copper kettle"), unique("a brass bell")
    assert client.images.generate(model="flux-dev", prompt=plain).data[0].revised_prompt == plain
    assert not llm_was_asked(fakes, plain)
    answer = client.images.generate(model="flux-dev", prompt=asked, extra_body={"enhance": True})
    [body] = upstream_bodies(fakes, "flux-dev", asked)
    assert answer.data[0].revised_prompt == body["prompt"] == enhanced(asked)


def test_enhance_images_api_turns_enhancement_on_unless_a_request_refuses(start_gateway, fakes):
    client = start_gateway({**upstream_env(fakes), "ENHANCE_IMAGES_API": "true"}).client()
    default, refused = unique("a copper kettle"), unique("a brass bell")
    assert client.images.generate(model="flux-dev", prompt=default).data[
        0
    ].revised_prompt == enhanced(default)
    refusing = client.images.generate(
        model="flux-dev", prompt=refused, extra_body={"enhance": False}
    )
    assert refusing.data[0].revised_prompt == refused and not llm_was_asked(fakes, refused)


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
        ({"quality": "ultra"}, "quality"),
        ({"background": "none"}, "background"),
        ({"output_format": "gif"}, "output_format"),
        ({"output_compression": 101}, "output_compression"),
        ({"moderation": "high"}, "moderation"),
        ({"style": "bold"}, "style"),
        ({"user": "u" * 257}, "user"),
        ({"partial_images": 4, "stream": True}, "partial_images"),
        ({"extra_body": {"seed": -1}}, "seed"),
        ({"extra_body": {"steps": 0}}, "steps"),
    ],
)
def test_bad_input_is_400_naming_the_param_and_calls_no_upstream(gateway, fakes, fields, param):
    server, _ = fakes["openai"]
    before = len(server.requests_to(GENERATIONS))
    with pytest.raises(openai.BadRequestError) as error:
        gateway.client().images.generate(
            **{"model": "flux-dev", "prompt": unique("a cat"), **fields}
        )
    assert error.value.body["param"] == param and error.value.type == "invalid_request_error"
    assert len(server.requests_to(GENERATIONS)) == before


@pytest.mark.parametrize(
    ("model", "fields", "param"),
    [
        ("flux-dev", {"background": "transparent"}, "background"),
        ("gpt-image-1", {"background": "transparent", "output_format": "jpeg"}, "output_format"),
    ],
)
def test_what_nothing_can_honour_is_400_unsupported_value_naming_param_and_model(
    gateway, fakes, model, fields, param
):
    server, _ = fakes["openai"]
    before = len(server.requests_to(GENERATIONS))
    with pytest.raises(openai.BadRequestError) as error:
        gateway.client().images.generate(model=model, prompt=unique("a cat"), **fields)
    assert error.value.code == "unsupported_value" and error.value.body["param"] == param
    if param == "background":
        assert model in error.value.message
    assert len(server.requests_to(GENERATIONS)) == before


def test_unknown_model_is_404_model_not_found(gateway):
    with pytest.raises(openai.NotFoundError) as error:
        gateway.client().images.generate(model="dall-e-9", prompt="a cat")
    assert error.value.code == "model_not_found" and error.value.body["param"] == "model"


def test_a_failing_provider_is_502_that_the_sdk_does_not_retry(gateway, fakes):
    server, _ = fakes["openai"]
    prompt = unique("__500__ a storm")
    retrying = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.key, max_retries=2)
    with pytest.raises(openai.InternalServerError) as error:
        retrying.images.generate(model="flux-dev", prompt=prompt)
    assert error.value.status_code == 502 and error.value.code == "upstream_failed"
    assert error.value.response.headers["x-should-retry"] == "false"
    assert len(upstream_bodies(fakes, "flux-dev", prompt)) == 1  # paid once, not three times
    assert (
        server.url.removeprefix("http://") not in error.value.message
        and "sk-upstream" not in error.value.message
    )


def test_an_upstream_safety_refusal_is_400(gateway):
    with pytest.raises(openai.BadRequestError) as error:
        gateway.client().images.generate(model="dall-e-3", prompt=unique("__policy__ a cat"))
    assert error.value.code == "content_policy_violation"
    assert error.value.response.headers["x-should-retry"] == "false"


def test_a_wrong_gateway_key_is_401(gateway):
    with pytest.raises(openai.AuthenticationError) as error:
        openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="wrong", max_retries=0).images.generate(
            prompt="a cat"
        )
    assert error.value.code == "invalid_api_key"


def test_a_retry_with_the_same_idempotency_key_gets_the_same_images(gateway, fakes):
    prompt = unique("a slow river")
    client = gateway.client()
    headers = {"Idempotency-Key": secrets.token_hex(8)}
    first = client.images.generate(model="flux-dev", prompt=prompt, n=2, extra_headers=headers)
    again = client.images.generate(model="flux-dev", prompt=prompt, n=2, extra_headers=headers)
    assert [image.url for image in first.data] == [image.url for image in again.data]
    assert len(upstream_bodies(fakes, "flux-dev", prompt)) == 1
