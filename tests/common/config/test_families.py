"""The three scripts' provider variables, copied verbatim, give the providers their users expect."""

import pytest

from common.config.load import ConfigError, load_settings
from common.prompt.size_tables import ZIMAGE_TABLE


def only_provider(env: dict[str, str]):
    [provider] = load_settings(env).providers
    return provider


def problems(env: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as error:
        load_settings(env)
    return error.value.problems


def test_flux_gen_is_one_siliconflow_provider_posting_to_the_url_as_given():
    provider = only_provider(
        {
            "FLUX_GEN_MODEL": "Kwai-Kolors/Kolors",
            "FLUX_GEN_API_BASE": "https://api.siliconflow.cn/v1/images/generations",
            "FLUX_GEN_API_KEY": "sk-1,sk-2",
        }
    )
    assert (provider.kind, provider.base_url, provider.keys) == (
        "siliconflow",
        "https://api.siliconflow.cn/v1/images/generations",
        ("sk-1", "sk-2"),
    )
    [model] = provider.models
    assert (model.name, model.batch, model.params) == (
        "Kwai-Kolors/Kolors",
        4,
        ("negative_prompt", "steps", "cfg"),
    )


def test_flux_gen_without_a_key_is_a_problem():
    assert problems({"FLUX_GEN_MODEL": "Kwai-Kolors/Kolors"}) == [
        "FLUX_GEN_API_KEY must be set too: FLUX_GEN_MODEL / FLUX_GEN_API_BASE are set"
    ]


def test_image_gen_defaults_to_the_chat_kind():
    provider = only_provider(
        {
            "IMAGE_GEN_MODEL_1": "flux",
            "IMAGE_GEN_API_BASE_1": "https://gw.example.com/v1/chat/completions",
            "IMAGE_GEN_API_KEY_1": "k",
        }
    )
    assert (provider.kind, provider.models[0].seeds) == ("chat", False)


def test_sd_api_key_is_exacg_serving_z_image():
    provider = only_provider({"SD_API_KEY": "sd-key"})
    assert (provider.kind, provider.base_url, provider.options) == (
        "exacg",
        "https://sd.exacg.cc",
        {"model_index": 5},
    )
    [model] = provider.models
    assert (model.name, model.table, model.steps, model.cfg, model.max_side) == (
        "Z-Image",
        ZIMAGE_TABLE,
        8,
        7.0,
        2048,
    )
    custom = only_provider(
        {"SD_API_KEY": "sd-key", "SD_API_BASE": "https://mirror.example.com", "SD_MODEL_INDEX": "3"}
    )
    assert (custom.base_url, custom.options) == ("https://mirror.example.com", {"model_index": 3})


def test_workers_ai_serves_flux_by_its_workers_ai_id_with_the_scripts_steps():
    provider = only_provider(
        {"CF_ACCOUNT_ID": "acc", "CF_API_TOKEN": "t1,t2", "FLUX_NUM_STEPS": "6"}
    )
    assert (provider.kind, provider.base_url, provider.keys, provider.options) == (
        "cloudflare",
        "https://api.cloudflare.com/client/v4",
        ("t1", "t2"),
        {"account_id": "acc"},
    )
    [model] = provider.models
    assert (model.name, model.steps, model.max_steps, model.decides_size) == (
        "@cf/black-forest-labs/flux-1-schnell",
        6,
        8,
        True,
    )


def test_workers_ai_other_models_and_paired_accounts():
    provider = only_provider(
        {
            "CF_ACCOUNT_ID": "a1,a2",
            "CF_API_TOKEN": "t1,t2",
            "FLUX_NUM_STEPS": "6",
            "FLUX_MODEL": "@cf/stabilityai/stable-diffusion-xl-base-1.0",
            "CF_API_BASE": "http://127.0.0.1:9/client/v4",
        }
    )
    assert (
        provider.keys == ("a1:t1", "a2:t2") and provider.base_url == "http://127.0.0.1:9/client/v4"
    )
    [model] = provider.models
    assert (model.steps, model.max_steps, model.min_side, model.decides_size) == (
        None,
        20,
        256,
        False,
    )


def test_workers_ai_flux2_models_edit_up_to_four_references_and_keep_their_own_steps():
    dev, klein = only_provider(
        {
            "CF_ACCOUNT_ID": "a",
            "CF_API_TOKEN": "t",
            "FLUX_NUM_STEPS": "6",  # flux-1-schnell's: dev runs its own default, klein a fixed 4
            "CF_MODEL": "@cf/black-forest-labs/flux-2-dev,@cf/black-forest-labs/flux-2-klein-9b",
        }
    ).models
    for model in (dev, klein):
        assert (model.edits, model.edit_images, model.masks, model.steps) == (True, 4, "", None)
        assert (model.min_side, model.max_side, model.decides_size) == (256, 1920, False)
    assert (dev.params, klein.params) == (("steps", "cfg"), ("cfg",))


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"CF_ACCOUNT_ID": "acc"}, "CF_ACCOUNT_ID and CF_API_TOKEN go together"),
        (
            {"CF_ACCOUNT_ID": "a,b,c", "CF_API_TOKEN": "t1,t2"},
            "CF_ACCOUNT_ID and CF_API_TOKEN go together",
        ),
        (
            {"CF_ACCOUNT_ID": "a", "CF_API_TOKEN": "t", "FLUX_NUM_STEPS": "9"},
            "FLUX_NUM_STEPS must be between 1 and 8",
        ),
        ({"SD_API_BASE": "https://sd.exacg.cc"}, "SD_API_KEY must be set too"),
        ({"SD_API_KEY": "k", "SD_API_BASE": "sd.exacg.cc"}, "SD_API_BASE must be an http(s) URL"),
        (
            {
                "IMAGE_GEN_MODEL_1": "m",
                "IMAGE_GEN_API_BASE_1": "https://x",
                "IMAGE_GEN_API_KEY_1": "k",
                "IMAGE_GEN_KIND_1": "dalle",
            },
            "IMAGE_GEN_KIND_1 must be one of a1111, chat, cloudflare, exacg, openai, placeholder, siliconflow",
        ),
    ],
)
def test_problems(env, problem):
    assert any(found.startswith(problem) for found in problems(env)), problems(env)


def test_every_problem_is_reported_at_once_and_duplicates_name_both_providers():
    found = problems(
        {
            "FLUX_GEN_MODEL": "Z-Image",
            "FLUX_GEN_API_KEY": "k",
            "SD_API_KEY": "sd",
            "CF_ACCOUNT_ID": "acc",
        }
    )
    assert "model 'Z-Image' is served by both flux-gen and exacg" in found
    assert any(problem.startswith("CF_ACCOUNT_ID and CF_API_TOKEN") for problem in found)
