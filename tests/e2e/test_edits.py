"""/v1/images/edits through real processes: the SDK's `images.edit`, the requests Open WebUI and
Cherry Studio send, the JSON form, and bad input refused before anything is enqueued."""

import base64
import io

import httpx
import openai
import pytest
import redis
from PIL import Image

from tests.gateway import Gateway
from worker.render.png import solid_png

EDITS = "/v1/images/edits"
RED, BLUE = (200, 30, 30), (30, 30, 200)


def png(width: int, height: int, rgb=RED) -> bytes:
    return solid_png(width, height, rgb)


def mask_png(width: int, height: int) -> bytes:
    """An OpenAI mask: the left half transparent (repaint), the right half opaque (keep)."""
    image = Image.new("RGBA", (width, height), (0, 0, 0, 255))
    image.paste((0, 0, 0, 0), (0, 0, width // 2, height))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def pixels(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


@pytest.fixture(scope="module")
def gateway(redis_server):
    redis_server.flush()
    with Gateway(redis_server.url).start() as gateway:
        yield gateway


def served(url: str) -> Image.Image:
    response = httpx.get(url)
    assert response.status_code == 200
    return pixels(response.content)


def test_sdk_edit_draws_the_input_under_the_placeholder_label(gateway):
    answer = gateway.client().images.edit(
        model="placeholder",
        image=("photo.png", png(320, 240), "image/png"),
        prompt="make it night",
    )
    [item] = answer.data
    image = served(item.url)
    assert image.size == (320, 240)  # an edit keeps its input's size
    assert image.getpixel((2, 2)) == RED  # the input shows where the label does not
    assert item.revised_prompt == "make it night"


def test_sdk_edit_of_several_images_with_a_mask(gateway):
    answer = gateway.client().images.edit(
        model="placeholder",
        image=[("a.png", png(256, 256), "image/png"), ("b.png", png(256, 256, BLUE), "image/png")],
        mask=("mask.png", mask_png(256, 256), "image/png"),
        prompt="merge them",
        size="512x512",
        response_format="b64_json",
    )
    image = pixels(base64.b64decode(answer.data[0].b64_json))
    assert image.size == (512, 512) and image.getpixel((2, 2)) == RED


@pytest.mark.parametrize("field", ["image", "image[]"])
def test_open_webui_and_cherry_studio_multipart_forms(gateway, field):
    files = [(field, ("a.png", png(128, 128), "image/png"))]
    if field == "image":  # Cherry Studio repeats a plain `image` field
        files.append(("image", ("b.jpg", png(128, 128, BLUE), "image/png")))
    response = httpx.post(
        f"{gateway.url}{EDITS}",
        data={"model": "placeholder", "prompt": "a hat", "n": "2", "size": "256x256"},
        files=files,
        headers=gateway.headers(),
    )
    assert response.status_code == 200, response.text
    urls = [item["url"] for item in response.json()["data"]]
    assert len(urls) == 2 and all(served(url).size == (256, 256) for url in urls)


def test_json_form_takes_data_uris_and_this_gateways_own_image_urls(gateway):
    first = gateway.client().images.generate(model="placeholder", prompt="a cat", size="256x256")
    data_uri = "data:image/png;base64," + base64.b64encode(png(256, 256, BLUE)).decode()
    response = httpx.post(
        f"{gateway.url}{EDITS}",
        json={
            "model": "placeholder",
            "prompt": "make it night",
            "images": [{"image_url": data_uri}, {"image_url": first.data[0].url}],
        },
        headers=gateway.headers(),
    )
    assert response.status_code == 200, response.text
    assert served(response.json()["data"][0]["url"]).getpixel((2, 2)) == BLUE


def _queue_untouched(gateway: Gateway) -> bool:
    client = redis.Redis.from_url(gateway.env["REDIS_URL"])
    try:
        return not client.keys("imagegate:job:*") and not client.keys("arq:*")
    finally:
        client.close()


def _multipart(**files):
    return {"data": {"model": "placeholder", "prompt": "x"}, "files": list(files.items())}


BAD_INPUTS = [
    ("not-an-image", _multipart(image=("a.png", b"GIF89a not really", "image/png")), 400, "image"),
    (
        "over 4096 px",
        _multipart(image=("a.png", png(4104, 8), "image/png")),
        400,
        "image",
    ),
    (
        "mask of another size",
        _multipart(
            image=("a.png", png(64, 64), "image/png"), mask=("m.png", mask_png(32, 32), "image/png")
        ),
        400,
        "mask",
    ),
    (
        "17 images",
        {
            "data": {"model": "placeholder", "prompt": "x"},
            "files": [("image[]", ("a.png", png(8, 8), "image/png"))] * 17,
        },
        400,
        "image",
    ),
    (
        "bad data: URI",
        {"json": {"prompt": "x", "images": [{"image_url": "data:image/png;base64,@@@"}]}},
        400,
        "images[0].image_url",
    ),
    (
        "private address",
        {"json": {"prompt": "x", "images": [{"image_url": "http://127.0.0.1:9/a.png"}]}},
        400,
        "images[0].image_url",
    ),
    (
        "file_id",
        {"json": {"prompt": "x", "images": [{"file_id": "file-123"}]}},
        400,
        "images[0].file_id",
    ),
    (
        "no prompt",
        {"data": {}, "files": [("image", ("a.png", png(8, 8), "image/png"))]},
        400,
        "prompt",
    ),
    (
        "no image",
        {"data": {"prompt": "x"}, "files": [("other", ("a", b"", "text/plain"))]},
        400,
        "image",
    ),
    (
        "n too large",
        {
            "data": {"prompt": "x", "n": "9"},
            "files": [("image", ("a.png", png(8, 8), "image/png"))],
        },
        400,
        "n",
    ),
]


@pytest.mark.parametrize(("name", "request_kwargs", "status", "param"), BAD_INPUTS)
def test_bad_input_names_the_param_and_enqueues_nothing(
    redis_server, gateway, name, request_kwargs, status, param
):
    redis_server.flush()
    response = httpx.post(f"{gateway.url}{EDITS}", headers=gateway.headers(), **request_kwargs)
    assert response.status_code == status, response.text
    assert response.json()["error"]["param"] == param
    assert _queue_untouched(gateway)


def test_upload_past_max_upload_bytes_is_413(start_gateway):
    gateway = start_gateway({"MAX_UPLOAD_BYTES": str(2**20)})
    response = httpx.post(
        f"{gateway.url}{EDITS}",
        data={"prompt": "x"},
        files=[("image", ("a.png", b"\x89PNG" + bytes(2**20), "image/png"))],
        headers=gateway.headers(),
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


def test_a_model_that_cannot_edit_is_400_edits_not_supported(start_gateway, openai_upstream):
    server, _ = openai_upstream
    gateway = start_gateway(
        {
            "IMAGE_GEN_MODEL_1": "dall-e-3",
            "IMAGE_GEN_API_BASE_1": f"{server.url}/v1",
            "IMAGE_GEN_API_KEY_1": "sk-upstream-good",
            "IMAGE_GEN_KIND_1": "openai",
        }
    )
    with pytest.raises(openai.BadRequestError) as refused:
        gateway.client().images.edit(
            model="dall-e-3", image=("a.png", png(64, 64), "image/png"), prompt="x"
        )
    assert refused.value.code == "edits_not_supported" and "dall-e-3" in refused.value.message
