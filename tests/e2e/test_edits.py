"""/v1/images/edits through real processes: the SDK's `images.edit`, the requests Open WebUI and
Cherry Studio send, the JSON form, and bad input refused before anything is enqueued."""

import base64
import io
import re

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


def _job_keys(gateway: Gateway) -> set[bytes]:
    """Every key a job leaves: its arq record and queue entry, its events and result."""
    client = redis.Redis.from_url(gateway.env["REDIS_URL"])
    try:
        return {
            *client.keys("imagegate:job:*"),
            *client.keys("arq:job:*"),
            *client.zrange("arq:queue", 0, -1),
        }
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
    gateway, name, request_kwargs, status, param
):
    before = _job_keys(gateway)
    response = httpx.post(f"{gateway.url}{EDITS}", headers=gateway.headers(), **request_kwargs)
    assert response.status_code == status, response.text
    assert response.json()["error"]["param"] == param
    assert _job_keys(gateway) == before


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


def _chat_with_image(text: str, url: str) -> list[dict]:
    return [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": text},
                {"type": "image_url", "image_url": {"url": url}},
            ],
        }
    ]


def test_chat_image_url_parts_become_an_edit(gateway):
    client = gateway.client()
    data_uri = "data:image/png;base64," + base64.b64encode(png(200, 100, BLUE)).decode()
    answer = client.chat.completions.create(
        model="placeholder", messages=_chat_with_image("make it night", data_uri)
    )
    [url] = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", answer.choices[0].message.content)
    image = served(url)
    assert image.size == (200, 100) and image.getpixel((2, 2)) == BLUE
    # "make it night" with the image it just got: this gateway's own URL, read from the cache.
    again = client.chat.completions.create(
        model="placeholder", messages=_chat_with_image("now add snow", url)
    )
    [second] = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", again.choices[0].message.content)
    assert served(second).size == (200, 100)


def test_chat_body_over_1_mb_is_413_unless_it_carries_images(gateway):
    padding = "x" * 1_100_000
    response = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={
            "model": "placeholder",
            "messages": [{"role": "user", "content": "a cat"}],
            "user": padding,
        },
        headers=gateway.headers(),
    )
    assert response.status_code == 413
    big = png(1024, 1024) + b"\x00" * 1_100_000  # trailing bytes after IEND: still a PNG
    data_uri = "data:image/png;base64," + base64.b64encode(big).decode()
    response = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "placeholder", "messages": _chat_with_image("a cat", data_uri)},
        headers=gateway.headers(),
        timeout=60,
    )
    assert response.status_code == 200, response.text


def test_chat_image_to_a_model_that_cannot_edit_is_refused(start_gateway, openai_upstream):
    server, _ = openai_upstream
    gateway = start_gateway(
        {
            "IMAGE_GEN_MODEL_1": "dall-e-3",
            "IMAGE_GEN_API_BASE_1": f"{server.url}/v1",
            "IMAGE_GEN_API_KEY_1": "sk-upstream-good",
            "IMAGE_GEN_KIND_1": "openai",
        }
    )
    data_uri = "data:image/png;base64," + base64.b64encode(png(8, 8)).decode()
    with pytest.raises(openai.BadRequestError) as refused:
        gateway.client().chat.completions.create(
            model="dall-e-3", messages=_chat_with_image("x", data_uri)
        )
    assert refused.value.code == "edits_not_supported"


def test_sdk_streamed_edit_ends_with_one_image_edit_completed_event(gateway):
    events = list(
        gateway.client().images.edit(
            model="placeholder",
            image=("a.png", png(128, 96), "image/png"),
            prompt="make it night",
            stream=True,
            partial_images=2,
        )
    )
    [done] = events  # the placeholder makes no previews
    assert done.type == "image_edit.completed"
    image = pixels(base64.b64decode(done.b64_json))
    assert image.size == (128, 96) and image.getpixel((2, 2)) == RED
