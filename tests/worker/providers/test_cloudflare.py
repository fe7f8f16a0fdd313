"""The cloudflare adapter against a fake Workers AI: flux's envelope, SDXL's raw PNG, FLUX.2's
multipart form with its references, every error."""

import io
from functools import partial

import pytest
from msgspec.structs import replace
from PIL import Image

from tests.fakes.adapter_calls import AdapterTarget, call, failure, image_request
from tests.fakes.cloudflare import (
    FLUX,
    FLUX2_DEV,
    FLUX2_KLEIN,
    FLUX_SIZE,
    SDXL,
    start_cloudflare,
)
from worker.render.png import solid_png
from worker.upstream.failures import Reason
from worker.upstream.sniff import sniff

ACCOUNT, TOKEN = "0123abcd0123abcd0123abcd0123abcd", "cf-token-good-0001"
OTHER_ACCOUNT, OTHER_TOKEN = "fedc4321fedc4321fedc4321fedc4321", "cf-token-other-0002"


FAKE = AdapterTarget(
    "cloudflare",
    partial(start_cloudflare, valid_keys=[f"{ACCOUNT}:{TOKEN}", f"{OTHER_ACCOUNT}:{OTHER_TOKEN}"]),
    path="/client/v4",
    options={"account_id": ACCOUNT},
)


def run_path(account: str, model: str) -> str:
    return f"/client/v4/accounts/{account}/ai/run/{model}"


async def test_flux_gets_prompt_and_steps_only_and_answers_a_jpeg(spec, upstream):
    server, fake = upstream
    request = image_request("cloudflare", FLUX, negative_prompt="blurry", cfg=3.0, seed=9)
    [image] = await call(spec, request, TOKEN)
    assert image == fake.produced[-1]
    info = sniff(image)
    assert (info.content_type, info.width, info.height) == ("image/jpeg", *FLUX_SIZE)
    [received] = server.requests_to(run_path(ACCOUNT, FLUX))
    assert received.json == {"prompt": "a red fox in snow", "steps": 4}
    assert received.headers["authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize("model", SDXL)
async def test_sdxl_gets_its_fields_and_answers_raw_png(spec, upstream, model):
    server, fake = upstream
    request = image_request(
        "cloudflare", model, width=1024, height=576, negative_prompt="blurry", steps=12, cfg=6.5
    )
    [image] = await call(spec, request, TOKEN)
    assert image == fake.produced[-1] and sniff(image).width == 1024
    assert server.json_bodies(run_path(ACCOUNT, model)) == [
        {
            "prompt": "a red fox in snow",
            "negative_prompt": "blurry",
            "width": 1024,
            "height": 576,
            "num_steps": 12,
            "guidance": 6.5,
            "seed": 7,
        }
    ]


async def test_an_account_token_pair_names_its_own_account(spec, upstream):
    server, _ = upstream
    assert await call(spec, image_request("cloudflare", FLUX), f"{OTHER_ACCOUNT}:{OTHER_TOKEN}")
    [received] = server.requests_to(run_path(OTHER_ACCOUNT, FLUX))
    assert received.headers["authorization"] == f"Bearer {OTHER_TOKEN}"


@pytest.mark.parametrize(
    ("prompt", "reason"),
    [
        ("__daily_quota__", Reason.QUOTA),  # 429 code 3036
        ("__quota_in_200__", Reason.QUOTA),  # 200, success false, code 3036
        (
            "__out_of_capacity__",
            Reason.UNAVAILABLE,
        ),  # 429 code 3040: capacity, not this key's limit
        ("__success_false__", Reason.UNAVAILABLE),  # 200 with success false
        ("__account_blocked__", Reason.KEY),  # 403 code 3023
        ("__upstream_timeout__", Reason.UNAVAILABLE),  # 408 code 3007
        ("__challenge__", Reason.BLOCKED),  # an HTML page
    ],
)
@pytest.mark.parametrize("model", [FLUX, FLUX2_DEV])  # a JSON body, and FLUX.2's form
async def test_envelope_errors_map_to_failures(spec, prompt, reason, model):
    found = await failure(spec, image_request("cloudflare", model, f"a fox {prompt}"), TOKEN)
    assert found.reason is reason and found.message and "<" not in found.message


async def test_a_wrong_token_is_the_key_failing(spec):
    found = await failure(spec, image_request("cloudflare", FLUX), "cf-token-revoked")
    assert (found.reason, found.status, found.message) == (Reason.KEY, 401, "Authentication error")


async def test_an_unknown_model_or_field_is_a_configuration_failure(spec):
    unknown = await failure(
        spec, image_request("cloudflare", "@cf/nobody/no-such-model", width=512, height=512), TOKEN
    )
    assert unknown.reason is Reason.CONFIG and "No such model" in unknown.message
    # A configuration claiming flux takes negative prompts: Workers AI refuses the field (5006).
    extra = await failure(
        spec,
        image_request("cloudflare", FLUX, negative_prompt="x", params=("negative_prompt",)),
        TOKEN,
    )
    assert extra.reason is Reason.CONFIG and "Bad input" in extra.message


async def test_flux2_dev_gets_a_multipart_form_even_for_a_prompt_alone(spec, upstream):
    server, fake = upstream
    request = image_request(
        "cloudflare", FLUX2_DEV, width=1024, height=576, steps=20, cfg=3.5, negative_prompt="x"
    )
    [image] = await call(spec, request, TOKEN)
    assert image == fake.produced[-1] and sniff(image).width == 1024
    [received] = server.requests_to(run_path(ACCOUNT, FLUX2_DEV))
    assert received.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert received.headers["authorization"] == f"Bearer {TOKEN}"
    fields, images = fake.forms[-1]
    assert images == [] and fields == {
        "prompt": "a red fox in snow",
        "width": "1024",
        "height": "576",
        "steps": "20",
        "guidance": "3.5",
        "seed": "7",
    }


@pytest.mark.parametrize("model", FLUX2_KLEIN)
async def test_flux2_klein_never_gets_steps(spec, upstream, model):
    _, fake = upstream
    await call(spec, image_request("cloudflare", model, width=512, height=512, steps=8), TOKEN)
    fields, _ = fake.forms[-1]
    assert "steps" not in fields and fields["width"] == "512"


def png(width: int, height: int, alpha: bool = False) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA" if alpha else "RGB", (width, height), (90, 40, 200, 128)).save(out, "PNG")
    return out.getvalue()


async def test_flux2_edits_send_up_to_four_references_shrunk_below_512(spec, upstream):
    _, fake = upstream
    small = solid_png(300, 200, (1, 2, 3))
    inputs = (png(1200, 600), small, png(512, 512, alpha=True), png(400, 900))
    request = replace(image_request("cloudflare", FLUX2_DEV, "make it night"), images=inputs)
    [image] = await call(spec, request, TOKEN)
    assert (sniff(image).width, sniff(image).height) == (1200, 600)  # the first input's size
    fields, sent = fake.forms[-1]
    assert (fields["width"], fields["height"]) == ("1200", "600")
    assert [name for name, *_ in sent] == [f"input_image_{i}" for i in range(4)]
    assert sent[1][3] == small  # already small enough: the very bytes
    sizes = [Image.open(io.BytesIO(data)).size for *_, data in sent]
    assert sizes == [(511, 256), (300, 200), (511, 511), (227, 511)]  # aspect ratio kept
    assert Image.open(io.BytesIO(sent[2][3])).mode == "RGBA"  # transparency survives
