"""The siliconflow adapter against a fake SiliconFlow: the fields each model takes, and every error body."""

from functools import partial

import pytest

from common.config.kinds import model_spec
from tests.fakes.adapter_calls import AdapterTarget, call, failure, image_request, provider
from tests.fakes.siliconflow import FLUX, GENERATIONS, KOLORS, QWEN, start_siliconflow
from worker.upstream.failures import Reason

KEY = "sk-sf-good"


FAKE = AdapterTarget(
    "siliconflow",
    partial(start_siliconflow, valid_keys=[KEY], key_behaviour={"sk-sf-forbidden": "forbidden"}),
    path="/v1",
)


async def test_kolors_gets_its_fields_and_a_batch(spec, upstream):
    server, fake = upstream
    request = image_request(
        "siliconflow",
        KOLORS,
        width=768,
        height=1024,
        n=2,
        negative_prompt="blurry",
        steps=30,
        cfg=25,
    )
    images = await call(spec, request, KEY)
    assert images == fake.produced[-2:]
    [body] = server.json_bodies(GENERATIONS)
    assert body == {
        "model": KOLORS,
        "prompt": "a red fox in snow",
        "image_size": "768x1024",
        "batch_size": 2,
        "negative_prompt": "blurry",
        "seed": 7,
        "num_inference_steps": 30,
        "guidance_scale": 20.0,
    }
    assert server.requests_to(GENERATIONS)[0].headers["authorization"] == f"Bearer {KEY}"


async def test_qwen_image_takes_cfg_and_its_own_size_table(spec, upstream):
    server, _ = upstream
    width, height = model_spec("siliconflow", QWEN, QWEN).table["16:9"]
    await call(spec, image_request("siliconflow", QWEN, width=width, height=height, cfg=4.0), KEY)
    [body] = server.json_bodies(GENERATIONS)
    assert body["image_size"] == "1664x928" and body["cfg"] == 4.0
    assert "guidance_scale" not in body and "batch_size" not in body


async def test_fields_a_model_does_not_take_are_dropped(spec, upstream):
    server, _ = upstream
    await call(spec, image_request("siliconflow", FLUX, width=1024, height=576, cfg=9.0), KEY)
    [body] = server.json_bodies(GENERATIONS)
    assert set(body) == {"model", "prompt", "image_size", "seed"}


async def test_a_full_endpoint_url_is_used_as_given(upstream):
    server, _ = upstream
    server.clear()
    spec = provider("siliconflow", f"{server.url}{GENERATIONS}")
    assert await call(spec, image_request("siliconflow", FLUX, width=512, height=512), KEY)
    assert len(server.requests_to(GENERATIONS)) == 1


@pytest.mark.parametrize(
    ("key", "prompt", "model", "reason", "status"),
    [
        ("sk-wrong", "a fox", FLUX, Reason.KEY, 401),  # a bare JSON string: "Invalid token"
        ("sk-sf-forbidden", "a fox", FLUX, Reason.KEY, 403),  # "Forbidden"
        (KEY, "a fox __rate_limited__", FLUX, Reason.RATE, 429),
        (KEY, "a fox __rate_limited_coded__", FLUX, Reason.RATE, 429),
        (KEY, "a fox __overloaded__", FLUX, Reason.UNAVAILABLE, 503),
        (KEY, "a fox __gateway_timeout__", FLUX, Reason.UNAVAILABLE, 504),  # an empty body
        (KEY, "a fox", "no/such-model", Reason.CONFIG, 400),  # code 20012
        (KEY, "a fox __challenge__", FLUX, Reason.BLOCKED, 403),  # an HTML page
    ],
)
async def test_error_bodies_map_to_failures(spec, key, prompt, model, reason, status):
    found = await failure(
        spec, image_request("siliconflow", model, prompt, width=512, height=512), key
    )
    assert (found.reason, found.status) == (reason, status)
    assert found.message and "<" not in found.message


async def test_a_wrong_path_is_a_configuration_failure(upstream):
    server, _ = upstream
    spec = provider("siliconflow", f"{server.url}/v2/images")
    found = await failure(spec, image_request("siliconflow", FLUX, width=512, height=512), KEY)
    assert (found.reason, found.message) == (Reason.CONFIG, "404 page not found")
