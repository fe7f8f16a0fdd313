"""Each kind's edit path against its fake: what goes upstream for input images and a mask."""

import base64
import io

import pytest
from msgspec.structs import replace
from PIL import Image

from tests.fakes import a1111, cloudflare, siliconflow
from tests.fakes.adapter_calls import call, failure, image_request, provider
from tests.fakes.chat_gateway import start_chat_gateway
from tests.fakes.openai_images import start_openai_images
from worker.render.png import solid_png
from worker.upstream.failures import Reason
from worker.upstream.sniff import sniff

RED, BLUE = (200, 30, 30), (30, 30, 200)


def openai_mask(width: int, height: int) -> bytes:
    """Left half transparent (repaint), right half opaque (keep)."""
    image = Image.new("RGBA", (width, height), (0, 0, 0, 255))
    image.paste((0, 0, 0, 0), (0, 0, width // 2, height))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def jpeg(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), BLUE).save(out, "JPEG")
    return out.getvalue()


def edit(kind: str, upstream: str, images: tuple[bytes, ...], mask: bytes | None = None, **kw):
    return replace(image_request(kind, upstream, "make it night", **kw), images=images, mask=mask)


@pytest.fixture(scope="module")
def openai_fake():
    server, fake = start_openai_images(valid_keys=("sk-good",))
    with server:
        yield server, fake


async def test_openai_one_image_goes_as_image_with_its_content_type(openai_fake):
    server, fake = openai_fake
    spec = provider("openai", f"{server.url}/v1")
    request = edit("openai", "gpt-image-1", (jpeg(64, 48),), openai_mask(64, 48))
    [image] = await call(spec, replace(request, input_fidelity="high"), "sk-good")
    assert image == fake.produced[-1]
    fields, files = fake.edits[-1]
    assert [(name, content_type) for name, _, content_type, _ in files] == [
        ("image", "image/jpeg"),
        ("mask", "image/png"),
    ]
    assert fields["model"] == "gpt-image-1" and fields["prompt"] == "make it night"
    assert fields["input_fidelity"] == "high" and "response_format" not in fields


async def test_openai_several_images_go_as_the_array_form(openai_fake):
    server, fake = openai_fake
    spec = provider("openai", f"{server.url}/v1")
    inputs = (solid_png(32, 32, RED), solid_png(32, 32, BLUE), jpeg(32, 32))
    await call(spec, edit("openai", "gpt-image-1", inputs), "sk-good")
    _, files = fake.edits[-1]
    assert [name for name, *_ in files] == ["image[]"] * 3
    assert [data for *_, data in files] == list(inputs)


async def test_a1111_img2img_gets_the_input_and_a_white_repaint_mask():
    server, fake = a1111.start_a1111()
    with server:
        spec = provider("a1111", server.url)
        source = solid_png(96, 64, RED)
        [image] = await call(spec, edit("a1111", "sd", (source,), openai_mask(96, 64)))
        assert image == fake.produced[-1]
        [received] = server.requests_to(a1111.IMG2IMG)
    body = received.json
    assert base64.b64decode(body["init_images"][0]) == source
    assert (body["width"], body["height"]) == (96, 64)  # the input's size
    mask = Image.open(io.BytesIO(base64.b64decode(body["mask"]))).convert("L")
    assert mask.getpixel((0, 0)) == 255 and mask.getpixel((95, 0)) == 0  # white = repaint


async def test_cloudflare_inpainting_sends_image_b64_and_the_mask_as_bytes():
    server, fake = cloudflare.start_cloudflare(valid_keys=["acct:tok"])
    with server:
        spec = provider("cloudflare", f"{server.url}/client/v4")
        source = solid_png(300, 300, RED)
        request = edit("cloudflare", cloudflare.INPAINTING, (source,), openai_mask(300, 300))
        [image] = await call(spec, request, "acct:tok")
        assert sniff(image).content_type == "image/png"
        [received] = server.requests
        body = received.json
        assert base64.b64decode(body["image_b64"]) == source
        mask = Image.open(io.BytesIO(bytes(body["mask"]))).convert("L")
        assert mask.getpixel((0, 0)) == 255 and mask.getpixel((299, 0)) == 0
        # Without the mask the model refuses (code 3030): our configuration, not the key.
        refused = await failure(spec, replace(request, mask=None), "acct:tok")
        assert refused.reason is Reason.CONFIG


@pytest.mark.parametrize(
    ("model", "inputs"), [(siliconflow.QWEN_EDIT, 1), (siliconflow.QWEN_EDIT_2509, 3)]
)
async def test_siliconflow_edit_models_take_their_inputs_inline(model, inputs):
    server, _ = siliconflow.start_siliconflow(valid_keys=["sk-sf"])
    with server:
        spec = provider("siliconflow", f"{server.url}/v1")
        images = tuple(solid_png(16, 16, (i, i, i)) for i in range(inputs))
        [image] = await call(spec, edit("siliconflow", model, images), "sk-sf")
        assert sniff(image) is not None
        [body] = server.json_bodies(siliconflow.GENERATIONS)
    names = ["image", "image2", "image3"][:inputs]
    assert [body[name] for name in names] == [
        "data:image/png;base64," + base64.b64encode(data).decode() for data in images
    ]
    assert "image_size" not in body


async def test_chat_gateway_gets_the_images_as_image_url_parts():
    server, _ = start_chat_gateway(valid_keys=["sk-chat"])
    with server:
        spec = provider("chat", f"{server.url}/v1")
        source = jpeg(40, 40)
        await call(spec, edit("chat", "flux-chat", (source,)), "sk-chat")
        [body] = [r.json for r in server.requests if r.json]
    [message] = body["messages"]
    assert message["content"] == [
        {"type": "text", "text": "make it night"},
        {
            "type": "image_url",
            "image_url": {"url": "data:image/jpeg;base64," + base64.b64encode(source).decode()},
        },
    ]
