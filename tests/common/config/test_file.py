"""The optional TOML file (IMAGEGATE_CONFIG), and `imagegate check-config` showing the result."""

import subprocess
import sys

import pytest

from common.config.load import ConfigError, load_settings

FILE = """
[settings]
DEFAULT_MODEL = "qwen"
PROVIDER_TIMEOUT = 200
RETRY_ON_TIMEOUT = true

[[providers]]
name = "sf"
kind = "siliconflow"
keys_env = "SF_KEYS"
timeout = 240
models = [
    "kolors=Kwai-Kolors/Kolors",
    { name = "qwen", upstream = "Qwen/Qwen-Image", steps = 30, cfg = 4.0, table = { "16:9" = "1344x768" } },
]

[[providers]]
name = "home-gpu"
kind = "a1111"
base_url = "http://192.168.1.20:7860"
keys = ["artist:secret-pass"]
sampler = "Euler a"
models = [{ name = "sdxl", upstream = "sd_xl_base_1.0", sizes = ["1024x1024", "1216x832"], params = ["steps"] }]

[[providers]]
name = "cf-sdxl"
kind = "cloudflare"
account_id = "acc"
keys = ["cf-token"]
models = ["@cf/stabilityai/stable-diffusion-xl-base-1.0"]

[[providers]]
name = "zimage-alt"
kind = "exacg"
keys = ["sd-key"]
model_index = 7
models = [{ name = "zimage-fast", steps = 6, table = "default" }]
"""


def write(tmp_path, text: str) -> str:
    path = tmp_path / "imagegate.toml"
    path.write_text(text)
    return str(path)


def test_a_file_declares_providers_of_any_kind_with_per_model_overrides(tmp_path):
    settings = load_settings({"IMAGEGATE_CONFIG": write(tmp_path, FILE), "SF_KEYS": "sk-1,sk-2"})
    sf, gpu, cf, exacg = settings.providers
    assert (sf.kind, sf.base_url, sf.keys, sf.timeout) == (
        "siliconflow",
        "https://api.siliconflow.cn/v1",
        ("sk-1", "sk-2"),
        240,
    )
    kolors, qwen = sf.models
    assert (kolors.upstream, kolors.batch) == ("Kwai-Kolors/Kolors", 4)
    assert (qwen.steps, qwen.cfg, qwen.table["16:9"], qwen.table["1:1"]) == (
        30,
        4.0,
        (1344, 768),
        (1328, 1328),
    )
    assert (gpu.options, gpu.models[0].fixed_sizes, gpu.models[0].params) == (
        {"sampler": "Euler a"},
        ((1024, 1024), (1216, 832)),
        ("steps",),
    )
    assert (cf.base_url, cf.options) == (
        "https://api.cloudflare.com/client/v4",
        {"account_id": "acc"},
    )
    [fast] = exacg.models
    assert (exacg.options, fast.steps, fast.cfg, fast.table["1:1"]) == (
        {"model_index": 7},
        6,
        7.0,
        (1024, 1024),
    )
    assert (settings.default_model, settings.provider_timeout, settings.retry_on_timeout) == (
        "qwen",
        200,
        True,
    )


def test_the_environment_wins_for_single_settings(tmp_path):
    env = {
        "IMAGEGATE_CONFIG": write(tmp_path, FILE),
        "SF_KEYS": "sk-1",
        "DEFAULT_MODEL": "sdxl",
        "PROVIDER_TIMEOUT": "90",
    }
    settings = load_settings(env)
    assert (settings.default_model, settings.provider_timeout) == ("sdxl", 90)


def test_a_model_defined_in_the_environment_and_the_file_is_an_error(tmp_path):
    env = {
        "IMAGEGATE_CONFIG": write(tmp_path, FILE),
        "SF_KEYS": "sk-1",
        "FLUX_GEN_MODEL": "kolors=Kwai-Kolors/Kolors",
        "FLUX_GEN_API_KEY": "k",
    }
    with pytest.raises(ConfigError) as error:
        load_settings(env)
    assert error.value.problems == ["model 'kolors' is served by both flux-gen and sf"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            '[[providers]]\nname = "x"\nkind = "siliconflow"\nmodels = ["m"]\nkey = ["typo"]\n',
            "Object contains unknown field `key`",
        ),
        (
            '[[providers]]\nname = "x"\nkind = "midjourney"\nmodels = ["m"]\n',
            "provider 'x': kind must be one of",
        ),
        (
            '[[providers]]\nname = "x"\nkind = "siliconflow"\nmodels = ["m"]\n',
            "provider 'x': a siliconflow provider needs keys",
        ),
        (
            '[[providers]]\nname = "x"\nkind = "cloudflare"\nkeys = ["t"]\nmodels = ["m"]\n',
            "provider 'x': set account_id",
        ),
        (
            '[[providers]]\nname = "x"\nkind = "chat"\nmodels = ["m"]\n',
            "provider 'x': base_url must be an http(s) URL",
        ),
        (
            '[[providers]]\nname = "x"\nkind = "a1111"\nbase_url = "http://h"\nmodels = [{ name = "m", table = { "5:4" = "1280x1024" } }]\n',
            "provider 'x': model 'm': the table's ratios must be among",
        ),
        (
            '[[providers]]\nname = "x"\nkind = "a1111"\nbase_url = "http://h"\nmodels = [{ name = "m", sizes = ["big"] }]\n',
            "provider 'x': model 'm': 'big' is not a size",
        ),
        (
            '[[providers]]\nname = "x"\nkind = "a1111"\nbase_url = "http://h"\nmodels = [{ name = "m", steps = 200, max_steps = 50 }]\n',
            "provider 'x': model 'm': steps 200 is above max_steps 50",
        ),
        (
            '[[providers]]\nname = "x"\nkind = "a1111"\nbase_url = "http://h"\nmodels = []\n',
            "provider 'x': list at least one model",
        ),
        ("[[providers]\n", "Expected ']]'"),
    ],
)
def test_problems_in_the_file_name_it(tmp_path, text, problem):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_settings({"IMAGEGATE_CONFIG": path})
    assert any(problem in found and path in found for found in error.value.problems), (
        error.value.problems
    )


def test_an_unreadable_file_is_a_problem(tmp_path):
    with pytest.raises(ConfigError) as error:
        load_settings({"IMAGEGATE_CONFIG": str(tmp_path / "missing.toml")})
    assert "IMAGEGATE_CONFIG: cannot read" in error.value.problems[0]


def check_config(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "imagegate", "check-config"],
        env={"PATH": "", **env},
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_check_config_prints_the_table_without_keys(tmp_path):
    result = check_config(
        {
            "IMAGEGATE_CONFIG": write(tmp_path, FILE),
            "SF_KEYS": "sk-1,sk-2",
            "SD_API_KEY": "sd-secret-key",
        }
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "provider",
        "kind",
        "base",
        "host",
        "keys",
        "model",
        "upstream",
        "id",
    ]
    assert any(
        line.split()[:5] == ["exacg", "exacg", "sd.exacg.cc", "1", "Z-Image"] for line in lines
    )
    assert any(
        line.split()[:5] == ["sf", "siliconflow", "api.siliconflow.cn", "2", "qwen"]
        for line in lines
    )
    assert any(
        line.split()[:4] == ["home-gpu", "a1111", "192.168.1.20:7860", "1"] for line in lines
    )
    for secret in ("sk-1", "sk-2", "sd-secret-key", "secret-pass", "cf-token"):
        assert secret not in result.stdout + result.stderr


def test_check_config_exits_non_zero_listing_every_problem():
    result = check_config({"CF_ACCOUNT_ID": "acc", "FLUX_GEN_MODEL": "m", "IMAGE_GEN_MODEL_1": "x"})
    assert result.returncode != 0 and result.stdout == ""
    assert "3 problem(s)" in result.stderr
    for problem in (
        "CF_ACCOUNT_ID and CF_API_TOKEN",
        "FLUX_GEN_API_KEY must be set",
        "IMAGE_GEN_API_BASE_1 must be set",  # a chat gateway may need no key
    ):
        assert problem in result.stderr


def test_check_config_names_the_enhancement_llm_without_its_keys():
    configured = check_config(
        {"ENHANCE_OPENAI_API_KEY": "sk-llm-1,sk-llm-2", "ENHANCE_OPENAI_MODEL": "qwen-plus"}
    )
    assert "enhancement: qwen-plus (plain) at api.openai.com, 2 key(s)" in configured.stdout
    assert "sk-llm" not in configured.stdout + configured.stderr
    assert "enhancement: off" in check_config({}).stdout


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:hunter2@cache.internal:6380/1", "redis: cache.internal:6380"),
        ("unix:///run/redis/redis.sock?db=2", "redis: unix socket /run/redis/redis.sock"),
    ],
)
def test_check_config_names_where_redis_is_without_its_password(url, shown):
    result = check_config({"REDIS_URL": url})
    assert result.returncode == 0, result.stderr
    assert shown in result.stdout.splitlines() and "hunter2" not in result.stdout
