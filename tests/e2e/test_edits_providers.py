"""`images.edit` through real processes to each kind's fake: the bytes the upstream made come
back, and the upstream got the inputs on its own edit path."""

import base64
import io

import httpx
import openai
import pytest
from PIL import Image

from tests.fakes.a1111 import IMG2IMG, start_a1111
from tests.fakes.chat_gateway import start_chat_gateway
from tests.fakes.cloudflare import FLUX2_DEV, INPAINTING, start_cloudflare
from tests.fakes.openai_edits import EDITS
from tests.fakes.siliconflow import GENERATIONS, QWEN_EDIT_2509, start_siliconflow
from tests.gateway import Gateway
from worker.render.png import solid_png

ACCOUNT = "acct-edits"


def mask(width: int, height: int) -> bytes:
    image = Image.new("RGBA", (width, height), (0, 0, 0, 255))
    image.paste((0, 0, 0, 0), (0, 0, width // 2, height))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def fakes(openai_upstream):
    started = {
        "sf": start_siliconflow(valid_keys=["sk-sf"]),
        "chat": start_chat_gateway(valid_keys=["sk-chat"]),
        "a1111": start_a1111(credentials="artist:pass"),
        "cf": start_cloudflare(valid_keys=[f"{ACCOUNT}:cf-token"]),
    }
    yield {"openai": openai_upstream, **started}
    for server, _ in started.values():
        server.stop()


@pytest.fixture(scope="module")
def gateway(redis_server, fakes):
    url = {name: server.url for name, (server, _) in fakes.items()}
    groups = [
        ("gpt-image-1", f"{url['openai']}/v1", "sk-upstream-good", "openai"),
        ("flux-chat", f"{url['chat']}/v1", "sk-chat", "chat"),
        ("sd", url["a1111"], "artist:pass", "a1111"),
        (QWEN_EDIT_2509, f"{url['sf']}/v1", "sk-sf", "siliconflow"),
    ]
    env = {
        "CF_ACCOUNT_ID": ACCOUNT,
        "CF_API_TOKEN": "cf-token",
        "CF_API_BASE": f"{url['cf']}/client/v4",
        "CF_MODEL": f"{INPAINTING},{FLUX2_DEV}",
    }
    for n, (model, base, key, kind) in enumerate(groups, start=1):
        env |= {
            f"IMAGE_GEN_MODEL_{n}": model,
            f"IMAGE_GEN_API_BASE_{n}": base,
            f"IMAGE_GEN_KIND_{n}": kind,
        }
        if key:
            env[f"IMAGE_GEN_API_KEY_{n}"] = key
    redis_server.flush()
    with Gateway(redis_server.url, env).start() as gateway:
        yield gateway


# model → (its fake, the path the edit goes to, whether it takes a mask, how many images)
CASES = {
    "gpt-image-1": ("openai", EDITS, True, 2),
    "sd": ("a1111", IMG2IMG, True, 1),
    INPAINTING: ("cf", f"/client/v4/accounts/{ACCOUNT}/ai/run/{INPAINTING}", True, 1),
    FLUX2_DEV: ("cf", f"/client/v4/accounts/{ACCOUNT}/ai/run/{FLUX2_DEV}", False, 4),
    QWEN_EDIT_2509: ("sf", GENERATIONS, False, 3),
    "flux-chat": ("chat", "/v1/chat/completions", False, 2),
}


@pytest.mark.parametrize("model", list(CASES))
def test_sdk_edit_reaches_each_kinds_edit_path(gateway, fakes, model):
    name, path, masks, count = CASES[model]
    server, fake = fakes[name]
    server.clear()
    inputs = [solid_png(320, 320, (40 * i, 90, 200)) for i in range(count)]
    files = [(f"in{i}.png", data, "image/png") for i, data in enumerate(inputs)]
    extra = {"mask": ("mask.png", mask(320, 320), "image/png")} if masks else {}
    answer = gateway.client().images.edit(
        model=model,
        image=files if count > 1 else files[0],
        prompt="make it night",
        response_format="b64_json",
        **extra,
    )
    [item] = answer.data
    made = base64.b64decode(item.b64_json)
    assert made == fake.produced[-1]
    [received] = server.requests_to(path, "POST")
    for data in inputs:  # every input reached the upstream, as bytes or base64
        assert data in received.body or base64.b64encode(data) in received.body


def test_workers_ai_flux2_generates_edits_large_references_and_refuses_a_mask(gateway, fakes):
    _, fake = fakes["cf"]
    client = gateway.client()
    [listed] = [m for m in client.models.list().data if m.id == FLUX2_DEV]
    assert listed.supported_endpoint_types == ["image-generation", "image-edit"]
    made = client.images.generate(
        model=FLUX2_DEV, prompt="a lighthouse", size="1024x1024", response_format="b64_json"
    )
    assert base64.b64decode(made.data[0].b64_json) == fake.produced[-1]
    fields, references = fake.forms[-1]
    assert references == [] and (fields["width"], fields["height"]) == ("1024", "1024")
    large = ("big.png", solid_png(1024, 768, (200, 120, 10)), "image/png")
    edited = client.images.edit(
        model=FLUX2_DEV, image=[large, large], prompt="at night", response_format="b64_json"
    )
    assert base64.b64decode(edited.data[0].b64_json) == fake.produced[-1]
    fields, references = fake.forms[-1]
    assert (fields["width"], fields["height"]) == ("1024", "768")  # the input's size
    assert [Image.open(io.BytesIO(data)).size for *_, data in references] == [(511, 383)] * 2
    with pytest.raises(openai.BadRequestError) as refused:
        client.images.edit(
            model=FLUX2_DEV, image=large, mask=("m.png", mask(1024, 768), "image/png"), prompt="x"
        )
    assert refused.value.code == "unsupported_value" and "takes no mask" in refused.value.message


def test_a_url_answer_serves_the_edited_bytes(gateway, fakes):
    _, fake = fakes["a1111"]
    answer = gateway.client().images.edit(
        model="sd", image=("a.png", solid_png(64, 64, (1, 2, 3)), "image/png"), prompt="x"
    )
    assert httpx.get(answer.data[0].url).content == fake.produced[-1]


def test_a1111_img2img_streams_its_live_previews_as_image_edit_events(gateway, fakes):
    server, fake = fakes["a1111"]
    server.clear()
    events = list(
        gateway.client().images.edit(
            model="sd",
            image=("a.png", solid_png(256, 256, (9, 9, 9)), "image/png"),
            prompt="make it night",
            stream=True,
            partial_images=2,
        )
    )
    types = [event.type for event in events]
    assert types == ["image_edit.partial_image"] * 2 + ["image_edit.completed"]
    assert base64.b64decode(events[-1].b64_json) == fake.produced[-1]
    [body] = server.json_bodies(IMG2IMG)
    assert body["force_task_id"] and body["init_images"]


def test_gpt_image_edit_previews_are_relayed_as_image_edit_events(gateway, fakes):
    server, fake = fakes["openai"]
    events = list(
        gateway.client().images.edit(
            model="gpt-image-1",
            image=("a.png", solid_png(64, 64, (5, 5, 5)), "image/png"),
            prompt="make it night",
            stream=True,
            partial_images=2,
        )
    )
    types = [event.type for event in events]
    assert types == ["image_edit.partial_image"] * 2 + ["image_edit.completed"]
    assert [base64.b64decode(e.b64_json) for e in events[:2]] == fake.previews[-2:]
    assert base64.b64decode(events[-1].b64_json) == fake.produced[-1]
    fields, _ = fake.edits[-1]
    assert fields["stream"] == "true" and fields["partial_images"] == "2"
