"""The fake `/images/edits` answers as OpenAI's does: the SDK's own requests pass; a repeated
bare `image`, a file without an image type, and a model that cannot edit are its 400s."""

import httpx
import openai
import pytest

from tests.fakes.openai_images import start_openai_images
from worker.render.png import solid_png

PNG = solid_png(16, 16, (10, 20, 30))


@pytest.fixture(scope="module")
def fake():
    server, fake = start_openai_images(valid_keys=("sk-good",))
    with server:
        yield server, fake


def sdk(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="sk-good", max_retries=0)


def test_the_sdk_sends_one_file_as_image_and_several_as_image_array(fake):
    server, upstream = fake
    sdk(server).images.edit(model="gpt-image-1", image=("a.png", PNG, "image/png"), prompt="x")
    assert [name for name, *_ in upstream.edits[-1][1]] == ["image"]
    sdk(server).images.edit(
        model="gpt-image-1",
        image=[("a.png", PNG, "image/png"), ("b.png", PNG, "image/png")],
        mask=("m.png", PNG, "image/png"),
        prompt="x",
    )
    assert [name for name, *_ in upstream.edits[-1][1]] == ["image[]", "image[]", "mask"]


def _post(server, files, model="gpt-image-1"):
    return httpx.post(
        f"{server.url}/v1/images/edits",
        data={"model": model, "prompt": "x"},
        files=files,
        headers={"Authorization": "Bearer sk-good"},
    )


@pytest.mark.parametrize(
    ("files", "model", "code"),
    [
        (
            [("image", ("a.png", PNG, "image/png")), ("image", ("b.png", PNG, "image/png"))],
            "gpt-image-1",
            "duplicate_parameter",
        ),
        (
            [("image", ("a.png", PNG, "application/octet-stream"))],
            "gpt-image-1",
            "unsupported_file_mimetype",
        ),
        ([("image", ("a.png", PNG, "image/png"))], "dall-e-3", None),
    ],
)
def test_refusals(fake, files, model, code):
    server, _ = fake
    response = _post(server, files, model)
    assert response.status_code == 400
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["code"] == code
