"""The exacg adapter against a fake 梦羽 exacg: its fixed body, Z-Image's defaults, `success: false`."""

from functools import partial

import pytest

from tests.fakes.adapter_calls import AdapterTarget, call, failure, image_request, provider
from tests.fakes.exacg import GENERATE, start_exacg
from worker.upstream.failures import Reason

KEY = "exacg-key-good"


FAKE = AdapterTarget("exacg", partial(start_exacg, valid_keys=[KEY]), options={"model_index": 5})


async def test_z_image_gets_steps_8_cfg_7_and_the_size_asked(spec, upstream):
    server, fake = upstream
    [image] = await call(
        spec, image_request("exacg", "Z-Image", width=2048, height=1152, seed=11), KEY
    )
    assert image == fake.produced[-1]
    assert server.json_bodies(GENERATE) == [
        {
            "prompt": "a red fox in snow",
            "negative_prompt": "",
            "width": 2048,
            "height": 1152,
            "steps": 8,
            "cfg": 7.0,
            "model_index": 5,
            "seed": 11,
        }
    ]
    assert server.requests_to(GENERATE)[0].headers["authorization"] == f"Bearer {KEY}"


async def test_a_numeric_upstream_id_picks_the_model_index(spec, upstream):
    server, _ = upstream
    await call(
        spec,
        image_request("exacg", "0", name="anything", width=512, height=768, steps=20, cfg=5.5),
        KEY,
    )
    [body] = server.json_bodies(GENERATE)
    assert (body["model_index"], body["steps"], body["cfg"]) == (0, 20, 5.5)


async def test_an_api_root_base_gets_the_endpoint_appended(upstream):
    server, _ = upstream
    server.clear()
    spec = provider("exacg", f"{server.url}/api/v1", options={"model_index": 5})
    assert await call(spec, image_request("exacg", "Z-Image", width=512, height=512), KEY)
    assert len(server.requests_to(GENERATE)) == 1


@pytest.mark.parametrize(
    ("key", "prompt", "reason"),
    [
        ("wrong-key", "a fox", Reason.KEY),  # 401 success false
        (KEY, "a fox __no_points__", Reason.QUOTA),  # HTTP 200, success false
        (KEY, "a fox __prompt_flagged__", Reason.PROMPT),  # HTTP 200, success false
        (KEY, "a fox __busy__", Reason.UNAVAILABLE),  # HTTP 200, success false
        (KEY, "a fox __generation_failed__", Reason.UNAVAILABLE),  # 500
        (KEY, "a fox __challenge__", Reason.BLOCKED),  # Cloudflare's HTML challenge page
    ],
)
async def test_failures_map_whatever_their_status(spec, key, prompt, reason):
    found = await failure(
        spec, image_request("exacg", "Z-Image", prompt, width=512, height=512), key
    )
    assert found.reason is reason and found.message and "<" not in found.message
