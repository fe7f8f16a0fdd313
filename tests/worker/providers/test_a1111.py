"""The a1111 adapter against a fake AUTOMATIC1111: txt2img fields, Basic auth, the batch's grid."""

from functools import partial

import pytest

from tests.fakes.a1111 import TXT2IMG, start_a1111
from tests.fakes.adapter_calls import AdapterTarget, call, failure, image_request, provider
from worker.upstream.failures import Reason

CREDENTIALS = "artist:s3cret-pass"


FAKE = AdapterTarget(
    "a1111",
    partial(start_a1111, credentials=CREDENTIALS),
    options={"sampler": "DPM++ 2M Karras"},
)


async def test_txt2img_gets_its_fields_with_basic_auth(spec, upstream):
    server, fake = upstream
    request = image_request(
        "a1111",
        "sd_xl_base_1.0",
        name="sdxl",
        width=1024,
        height=768,
        negative_prompt="blurry",
        steps=25,
        cfg=6.0,
        seed=99,
    )
    [image] = await call(spec, request, CREDENTIALS)
    assert image == fake.produced[-1]
    [received] = server.requests_to(TXT2IMG)
    assert received.json == {
        "prompt": "a red fox in snow",
        "batch_size": 1,
        "width": 1024,
        "height": 768,
        "negative_prompt": "blurry",
        "seed": 99,
        "steps": 25,
        "cfg_scale": 6.0,
        "sampler_name": "DPM++ 2M Karras",
        "override_settings": {"sd_model_checkpoint": "sd_xl_base_1.0"},
    }
    assert received.headers["authorization"].startswith("Basic ")


async def test_a_bare_model_name_keeps_the_loaded_checkpoint_and_drops_the_grid(spec, upstream):
    server, fake = upstream
    images = await call(
        spec, image_request("a1111", "local-sd", width=512, height=512, n=3), CREDENTIALS
    )
    assert images == fake.produced[-3:]  # the grid, made first, is not among them
    [body] = server.json_bodies(TXT2IMG)
    assert body["batch_size"] == 3 and "override_settings" not in body


@pytest.mark.parametrize(
    ("key", "prompt", "options", "reason"),
    [
        ("artist:wrong", "a fox", {}, Reason.KEY),  # 401 {"detail": ...}
        (
            CREDENTIALS,
            "a fox __out_of_memory__",
            {},
            Reason.UNAVAILABLE,
        ),  # 500 {"error", "detail", ...}
        (
            CREDENTIALS,
            "a fox",
            {"sampler": "No Such Sampler"},
            Reason.CONFIG,
        ),  # 404 Sampler not found
    ],
)
async def test_errors_map_to_failures(upstream, key, prompt, options, reason):
    server, _ = upstream
    spec = provider("a1111", server.url, options=options)
    found = await failure(
        spec, image_request("a1111", "local-sd", prompt, width=512, height=512), key
    )
    assert found.reason is reason and found.message
