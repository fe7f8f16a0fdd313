"""The fake Workers AI's FLUX.2 models answer as PROVIDERS.md says: a multipart form only, up to
four reference images each smaller than 512x512, `steps` for dev alone, `result.image` back."""

import base64

import httpx
import pytest

from tests.fakes.cloudflare import FLUX2_DEV, FLUX2_KLEIN, FLUX2_SIZE, start_cloudflare
from worker.render.png import solid_png
from worker.upstream.sniff import sniff

ACCOUNT, TOKEN = "acct-flux2", "cf-token"
SMALL = solid_png(511, 300, (10, 20, 30))


@pytest.fixture(scope="module")
def fake():
    server, fake = start_cloudflare(valid_keys=[f"{ACCOUNT}:{TOKEN}"])
    with server:
        yield server, fake


def run(server, model: str, fields: dict | None = None, files: list | None = None, **kw):
    """POST to the model's run URL; `fields` go as text parts of a multipart form."""
    parts = [(name, (None, str(value))) for name, value in (fields or {}).items()]
    return httpx.post(
        f"{server.url}/client/v4/accounts/{ACCOUNT}/ai/run/{model}",
        files=parts + (files or []) if fields is not None or files else None,
        headers={"Authorization": f"Bearer {TOKEN}"},
        **kw,
    )


def images(count: int, data: bytes = SMALL) -> list:
    return [(f"input_image_{i}", (f"{i}.png", data, "image/png")) for i in range(count)]


def bad_input(answer: httpx.Response) -> str:
    body = answer.json()
    assert (answer.status_code, body["success"], body["result"]) == (400, False, None)
    [error] = body["errors"]
    return f"{error['code']} {error['message']}"


@pytest.mark.parametrize("model", [FLUX2_DEV, *FLUX2_KLEIN])
def test_a_prompt_alone_as_a_form_gets_a_base64_image_in_the_envelope(fake, model):
    server, upstream = fake
    answer = run(server, model, {"prompt": "a fox"})
    body = answer.json()
    assert answer.status_code == 200 and body["success"] is True and body["errors"] == []
    image = base64.b64decode(body["result"]["image"])
    assert image == upstream.produced[-1]
    assert (sniff(image).width, sniff(image).height) == FLUX2_SIZE


def test_the_size_seed_guidance_and_four_references_are_taken(fake):
    server, upstream = fake
    fields = {"prompt": "a fox", "width": 1920, "height": 256, "seed": 3, "guidance": 4.5}
    answer = run(server, FLUX2_DEV, {**fields, "steps": 20}, images(4))
    image = base64.b64decode(answer.json()["result"]["image"])
    assert (sniff(image).width, sniff(image).height) == (1920, 256)
    got_fields, got_images = upstream.forms[-1]
    assert got_fields["steps"] == "20" and [data for *_, data in got_images] == [SMALL] * 4


def test_a_json_body_is_refused_even_for_a_prompt_alone(fake):
    server, _ = fake
    assert bad_input(run(server, FLUX2_DEV, json={"prompt": "a fox"})).startswith("5004 ")


@pytest.mark.parametrize(
    ("model", "fields", "files", "says"),
    [
        (FLUX2_KLEIN[0], {"prompt": "x", "steps": 4}, [], "'steps'"),
        (FLUX2_KLEIN[1], {"prompt": "x", "steps": 8}, [], "'steps'"),
        (FLUX2_DEV, {"prompt": "x"}, images(5), "'input_image_4'"),
        (FLUX2_DEV, {"prompt": "x"}, images(1) * 5, "at most 4 input images"),
        (FLUX2_DEV, {"prompt": "x"}, images(1, solid_png(512, 100, (1, 2, 3))), "512x100"),
        (FLUX2_DEV, {"prompt": "x"}, images(1, solid_png(64, 600, (1, 2, 3))), "64x600"),
        (FLUX2_DEV, {"prompt": "x", "input_image_0": "aGVsbG8="}, [], "'input_image_0'"),
        (FLUX2_DEV, {"prompt": "x", "width": 2048}, [], "'width'"),
        (FLUX2_DEV, {"prompt": "x", "height": 128}, [], "'height'"),
        (FLUX2_DEV, {"prompt": "x", "negative_prompt": "y"}, [], "'negative_prompt'"),
        (FLUX2_DEV, {"steps": 4}, [], "'prompt' is required"),
    ],
)
def test_what_flux2_refuses_is_a_5006_bad_input(fake, model, fields, files, says):
    server, _ = fake
    message = bad_input(run(server, model, fields, files))
    assert message.startswith("5006 AiError: Bad input") and says in message


def test_a_url_encoded_form_is_not_multipart(fake):
    server, _ = fake
    answer = httpx.post(
        f"{server.url}/client/v4/accounts/{ACCOUNT}/ai/run/{FLUX2_DEV}",
        data={"prompt": "a fox"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert bad_input(answer).startswith("5004 ")
