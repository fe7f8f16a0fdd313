"""Every kind of upstream end to end: openai SDK → api → Redis → worker → fake upstream, each
configured by its script's own variables (the cloudflare SDXL model by the TOML file)."""

import httpx
import openai
import pytest

from tests.fakes.a1111 import TXT2IMG, start_a1111
from tests.fakes.chat_gateway import COMPLETIONS, start_chat_gateway
from tests.fakes.cloudflare import FLUX, start_cloudflare
from tests.fakes.exacg import GENERATE, start_exacg
from tests.fakes.siliconflow import GENERATIONS, KOLORS, start_siliconflow
from tests.gateway import Gateway

ACCOUNT = "0123abcd0123abcd0123abcd0123abcd"
LIGHTNING = "@cf/bytedance/stable-diffusion-xl-lightning"
SECRETS = ("sk-sf-e2e", "sk-chat-e2e", "s3cret-pass", "sd-e2e-key", "cf-e2e-token")
CONFIG = f"""
[[providers]]
name = "cf-sdxl"
kind = "cloudflare"
base_url = "{{cf}}/client/v4"
account_id = "{ACCOUNT}"
keys = ["cf-e2e-token"]
models = ["{LIGHTNING}"]

[[providers]]
name = "cf-spare"
kind = "cloudflare"
base_url = "{{cf}}/client/v4"
keys = ["{ACCOUNT}:cf-e2e-token"]
models = ["spare-flux={FLUX}"]
"""


@pytest.fixture(scope="module")
def fakes():
    started = {
        "sf": start_siliconflow(valid_keys=["sk-sf-e2e"]),
        "chat": start_chat_gateway(valid_keys=["sk-chat-e2e"]),
        "a1111": start_a1111(credentials="artist:s3cret-pass"),
        "exacg": start_exacg(valid_keys=["sd-e2e-key"]),
        "cf": start_cloudflare(valid_keys=[f"{ACCOUNT}:cf-e2e-token"]),
    }
    yield started
    for server, _ in started.values():
        server.stop()


@pytest.fixture(scope="module")
def gateway(redis_server, fakes, tmp_path_factory):
    url = {name: server.url for name, (server, _) in fakes.items()}
    config = tmp_path_factory.mktemp("config") / "imagegate.toml"
    config.write_text(CONFIG.replace("{cf}", url["cf"]))
    env = {
        # The Flux script
        "FLUX_GEN_MODEL": KOLORS,
        "FLUX_GEN_API_BASE": f"{url['sf']}/v1/images/generations",
        "FLUX_GEN_API_KEY": "sk-sf-e2e",
        "CF_ACCOUNT_ID": ACCOUNT,
        "CF_API_TOKEN": "cf-e2e-token",
        "FLUX_NUM_STEPS": "6",
        "CF_API_BASE": f"{url['cf']}/client/v4",
        # The multi-vendor script
        "IMAGE_GEN_MODEL_1": "flux-chat",
        "IMAGE_GEN_API_BASE_1": f"{url['chat']}/v1/chat/completions",
        "IMAGE_GEN_API_KEY_1": "sk-chat-e2e",
        "IMAGE_GEN_MODEL_2": "sdxl=sd_xl_base_1.0",
        "IMAGE_GEN_API_BASE_2": url["a1111"],
        "IMAGE_GEN_API_KEY_2": "artist:s3cret-pass",
        "IMAGE_GEN_KIND_2": "a1111",
        # The Z-Image script
        "SD_API_KEY": "sd-e2e-key",
        "SD_API_BASE": url["exacg"],
        "IMAGEGATE_CONFIG": str(config),
    }
    redis_server.flush()
    with Gateway(redis_server.url, env).start() as gateway:
        yield gateway


def ask(gateway: Gateway, model: str, prompt: str, **extra) -> str:
    answer = gateway.client().chat.completions.create(
        model=model, messages=[{"role": "user", "content": prompt}], extra_body=extra or None
    )
    return answer.choices[0].message.content


def fetch_image(content: str) -> httpx.Response:
    url = content.split("](", 1)[1].split(")", 1)[0]
    return httpx.get(url)


def test_siliconflow_from_flux_gen_variables(gateway, fakes):
    server, fake = fakes["sf"]
    server.clear()
    content = ask(
        gateway,
        KOLORS,
        "a red fox in snow, ratio 16:9",
        negative_prompt="blurry",
        seed=5,
        steps=25,
        cfg=6.0,
    )
    assert fetch_image(content).content == fake.produced[-1]
    assert server.json_bodies(GENERATIONS) == [
        {
            "model": KOLORS,
            "prompt": "a red fox in snow",
            "image_size": "1024x576",
            "batch_size": 1,
            "negative_prompt": "blurry",
            "seed": 5,
            "num_inference_steps": 25,
            "guidance_scale": 6.0,
        }
    ]
    assert "**📐 Resolution:** 1024×576" in content and "**🎲 Seed:** 5" in content


def test_chat_gateway_from_image_gen_variables(gateway, fakes):
    server, fake = fakes["chat"]
    server.clear()
    content = ask(gateway, "flux-chat", "a red fox in snow, ratio 16:9", seed=5, steps=25)
    assert fetch_image(content).content == fake.produced[-1]
    assert server.json_bodies(COMPLETIONS) == [
        {
            "model": "flux-chat",
            "messages": [{"role": "user", "content": "a red fox in snow, ratio 16:9"}],
            "stream": False,
        }
    ]
    assert "**📐 Resolution:** 1024×576" in content and "Seed" not in content


def test_a1111_with_basic_auth_and_a_checkpoint(gateway, fakes):
    server, fake = fakes["a1111"]
    server.clear()
    content = ask(gateway, "sdxl", "a red fox in snow", size="1024x768", seed=5, steps=20, cfg=6.5)
    assert fetch_image(content).content == fake.produced[-1]
    [received] = server.requests_to(TXT2IMG)
    assert received.json == {
        "prompt": "a red fox in snow",
        "batch_size": 1,
        "width": 1024,
        "height": 768,
        "seed": 5,
        "steps": 20,
        "cfg_scale": 6.5,
        "override_settings": {"sd_model_checkpoint": "sd_xl_base_1.0"},
    }
    assert received.headers["authorization"].startswith("Basic ")


def test_exacg_z_image_from_sd_api_key(gateway, fakes):
    server, fake = fakes["exacg"]
    server.clear()
    content = ask(gateway, "Z-Image", "a red fox in snow 16:9", seed=5)
    assert fetch_image(content).content == fake.produced[-1]
    assert server.json_bodies(GENERATE) == [
        {
            "prompt": "a red fox in snow",
            "negative_prompt": "",
            "width": 2048,
            "height": 1152,
            "steps": 8,
            "cfg": 7.0,
            "model_index": 5,
            "seed": 5,
        }
    ]
    assert "**📐 Resolution:** 2048×1152" in content


def test_workers_ai_flux_decides_its_size_and_says_so(gateway, fakes):
    server, fake = fakes["cf"]
    server.clear()
    content = ask(gateway, FLUX, "a red fox in snow, ratio 16:9", seed=5, negative_prompt="blurry")
    image = fetch_image(content)
    assert image.content == fake.produced[-1] and image.headers["content-type"] == "image/jpeg"
    assert server.json_bodies(f"/client/v4/accounts/{ACCOUNT}/ai/run/{FLUX}") == [
        {"prompt": "a red fox in snow", "steps": 6}
    ]
    assert "**📐 Resolution:** 1024×768" in content and "16:9 was not honoured" in content


def test_workers_ai_sdxl_from_the_config_file(gateway, fakes):
    server, fake = fakes["cf"]
    server.clear()
    content = ask(gateway, LIGHTNING, "a red fox in snow", size="512x512", seed=5)
    assert fetch_image(content).content == fake.produced[-1]
    assert server.json_bodies(f"/client/v4/accounts/{ACCOUNT}/ai/run/{LIGHTNING}") == [
        {"prompt": "a red fox in snow", "width": 512, "height": 512, "seed": 5}
    ]


def test_streaming_shows_the_model_and_provider(gateway):
    chunks = gateway.client().chat.completions.create(
        model="Z-Image", messages=[{"role": "user", "content": "a red fox in snow"}], stream=True
    )
    reasoning = "".join(
        getattr(c.choices[0].delta, "reasoning_content", None) or "" for c in chunks if c.choices
    )
    assert "Generating an image with Z-Image via exacg" in reasoning


def error_of(gateway: Gateway, model: str, prompt: str) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": prompt}]}
    return httpx.post(
        f"{gateway.url}/v1/chat/completions", json=body, headers=gateway.headers(), timeout=30
    )


@pytest.mark.parametrize(
    ("model", "prompt", "status", "code"),
    [
        (
            "Z-Image",
            "a fox __prompt_flagged__",
            400,
            "content_policy_violation",
        ),  # exacg: 200 with success false
        ("flux-chat", "a fox __refusal__", 400, "content_policy_violation"),  # a refusal in words
        (KOLORS, "a fox __challenge__", 502, "upstream_failed"),  # an HTML challenge page
        (
            "Z-Image",
            "a fox __private_url__",
            502,
            "upstream_failed",
        ),  # an image URL inside our network
    ],
)
def test_upstream_errors_reach_the_client_as_clear_errors(gateway, model, prompt, status, code):
    response = error_of(gateway, model, prompt)
    assert response.status_code == status and response.headers["x-should-retry"] == "false"
    assert response.json()["error"]["code"] == code


def test_a_spent_workers_ai_quota_benches_the_key_for_an_hour(gateway, fakes):
    server, _ = fakes["cf"]
    first = error_of(gateway, "spare-flux", "a fox __daily_quota__")
    assert first.status_code == 429 and first.json()["error"]["code"] == "upstream_rate_limited"
    assert int(first.headers["retry-after"]) == 3600
    server.clear()
    again = error_of(gateway, "spare-flux", "a fox")
    assert again.status_code == 429 and 3500 < int(again.headers["retry-after"]) <= 3600
    assert server.requests == []  # answered at once: the key rests


def test_no_answer_reveals_an_upstream_url_host_or_key(gateway, fakes):
    texts = [
        ask(gateway, model, "a red fox in snow")
        for model in (KOLORS, "flux-chat", "sdxl", "Z-Image", FLUX, LIGHTNING)
    ]
    texts += [
        error_of(gateway, "Z-Image", "a fox __private_url__").text,
        error_of(gateway, KOLORS, "a fox __challenge__").text,
    ]
    hosts = [server.url.removeprefix("http://") for server, _ in fakes.values()]
    for text in texts:
        assert not any(host in text for host in hosts), text
        assert not any(secret in text for secret in SECRETS), text
    with pytest.raises(openai.BadRequestError) as rejected:
        ask(gateway, "Z-Image", "a fox __prompt_flagged__")
    assert "prohibited content" in rejected.value.message and not any(
        host in rejected.value.message for host in hosts
    )
