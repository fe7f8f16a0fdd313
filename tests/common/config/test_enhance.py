"""The enhancement LLM read from the three scripts' variables: precedence, defaults, problems (SPEC §3)."""

import pytest

from common.config.load import ConfigError, load_settings
from common.config.types import EnhanceSpec

ZIMAGE = {"ENHANCE_OPENAI_API_KEY": "sk-a, sk-b"}
MULTI = {
    "OPENAI_API_KEY": "sk-m",
    "OPENAI_API_BASE": "https://llm.example/v1",
    "OPENAI_MODEL": "qwen-plus",
}
FLUX = {
    "PROMPT_OPTIMIZATION": "true",
    "EXTERNAL_API_BASE": "https://flux-llm.example",
    "EXTERNAL_MODEL": "glm-4",
    "EXTERNAL_API_KEY": "sk-f",
}


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        # An OPENAI_API_KEY exported for other tools never turns enhancement on.
        ({"OPENAI_API_KEY": "sk-other-tool"}, None),
        (
            ZIMAGE,
            EnhanceSpec(
                mode="plain",
                base_url="https://api.openai.com/v1",
                keys=("sk-a", "sk-b"),
                model="gpt-4o-mini",
            ),
        ),
        (
            {
                **ZIMAGE,
                "ENHANCE_OPENAI_BASE_URL": "https://proxy.example/v1",
                "ENHANCE_OPENAI_MODEL": "deepseek-chat",
            },
            EnhanceSpec(
                mode="plain",
                base_url="https://proxy.example/v1",
                keys=("sk-a", "sk-b"),
                model="deepseek-chat",
            ),
        ),
        (
            MULTI,
            EnhanceSpec(
                mode="plain", base_url="https://llm.example/v1", keys=("sk-m",), model="qwen-plus"
            ),
        ),
        (
            {"OPENAI_API_KEY": "sk-1,sk-2", "OPENAI_MODEL_REASONING": "deepseek-reasoner"},
            EnhanceSpec(
                mode="reasoning",
                base_url="https://api.openai.com/v1",
                keys=("sk-1", "sk-2"),
                model="deepseek-reasoner",
            ),
        ),
        # A keyless local LLM through the multi-vendor variables.
        (
            {"OPENAI_API_BASE": "http://127.0.0.1:11434/v1", "OPENAI_MODEL": "qwen2.5"},
            EnhanceSpec(
                mode="plain", base_url="http://127.0.0.1:11434/v1", keys=(), model="qwen2.5"
            ),
        ),
        # The Flux script's base has no /v1: its endpoint was base + /v1/chat/completions.
        (
            FLUX,
            EnhanceSpec(
                mode="plain", base_url="https://flux-llm.example/v1", keys=("sk-f",), model="glm-4"
            ),
        ),
        (
            {**FLUX, "EXTERNAL_API_BASE": "https://flux-llm.example/v1/"},
            EnhanceSpec(
                mode="plain", base_url="https://flux-llm.example/v1/", keys=("sk-f",), model="glm-4"
            ),
        ),
        (
            {**FLUX, "EXTERNAL_API_BASE": "https://gw.example/api"},
            EnhanceSpec(
                mode="plain", base_url="https://gw.example/api/v1", keys=("sk-f",), model="glm-4"
            ),
        ),
        # Precedence: Z-Image over multi-vendor over Flux.
        (
            {**FLUX, **MULTI, **ZIMAGE},
            EnhanceSpec(
                mode="plain",
                base_url="https://api.openai.com/v1",
                keys=("sk-a", "sk-b"),
                model="gpt-4o-mini",
            ),
        ),
        (
            {**FLUX, **MULTI},
            EnhanceSpec(
                mode="plain", base_url="https://llm.example/v1", keys=("sk-m",), model="qwen-plus"
            ),
        ),
        # PROMPT_OPTIMIZATION=false turns every family off.
        ({**MULTI, **ZIMAGE, "PROMPT_OPTIMIZATION": "false"}, None),
        ({**FLUX, "PROMPT_OPTIMIZATION": "0"}, None),
        # Without the switch the Flux variables alone do nothing, as in the script.
        ({k: v for k, v in FLUX.items() if k != "PROMPT_OPTIMIZATION"}, None),
        # Our system prompt is replaced by either script's variable; the timeout is configurable.
        (
            {**ZIMAGE, "ENHANCE_SYSTEM_PROMPT": "Rewrite as a haiku.", "ENHANCE_TIMEOUT": "4.5"},
            EnhanceSpec(
                mode="plain",
                base_url="https://api.openai.com/v1",
                keys=("sk-a", "sk-b"),
                model="gpt-4o-mini",
                system_prompt="Rewrite as a haiku.",
                timeout=4.5,
            ),
        ),
        (
            {**FLUX, "SYSTEM_MESSAGE": "You are a prompt engineer."},
            EnhanceSpec(
                mode="plain",
                base_url="https://flux-llm.example/v1",
                keys=("sk-f",),
                model="glm-4",
                system_prompt="You are a prompt engineer.",
            ),
        ),
    ],
)
def test_families(env, expected):
    assert load_settings(env).enhance == expected


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        (
            {"OPENAI_API_KEY": "sk-m", "OPENAI_MODEL": "a", "OPENAI_MODEL_REASONING": "b"},
            "OPENAI_MODEL and OPENAI_MODEL_REASONING are both set",
        ),
        ({"OPENAI_MODEL": "gpt-4o-mini"}, "set OPENAI_API_KEY"),
        (
            {"PROMPT_OPTIMIZATION": "true", "EXTERNAL_MODEL": "glm-4"},
            "PROMPT_OPTIMIZATION=true needs EXTERNAL_API_BASE and EXTERNAL_MODEL",
        ),
        ({"PROMPT_OPTIMIZATION": "true"}, "no enhancement LLM is set"),
        ({"PROMPT_OPTIMIZATION": "maybe"}, "PROMPT_OPTIMIZATION must be true or false"),
        (
            {**ZIMAGE, "ENHANCE_OPENAI_BASE_URL": "api.openai.com/v1"},
            "ENHANCE_OPENAI_BASE_URL must be an http(s) URL",
        ),
        ({**ZIMAGE, "ENHANCE_TIMEOUT": "soon"}, "ENHANCE_TIMEOUT must be a number"),
    ],
)
def test_problems_stop_the_start(env, problem):
    with pytest.raises(ConfigError) as error:
        load_settings(env)
    assert any(problem in line for line in error.value.problems), error.value.problems


def test_no_value_is_logged(caplog):
    caplog.set_level("INFO", logger="imagegate.config")
    load_settings({**ZIMAGE, "ENHANCE_OPENAI_MODEL": "secret-model-name"})
    assert (
        "ENHANCE_OPENAI_API_KEY" in caplog.text
        and "sk-a" not in caplog.text
        and "secret-model-name" not in caplog.text
    )
