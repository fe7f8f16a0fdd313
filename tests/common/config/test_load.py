"""The whole configuration: every problem in one message quoting what it got, the ./.env file,
the placeholder key, look-alike variables, kind names and keyless kinds."""

import logging
import os
import subprocess
import sys

import pytest

from common.config.dotenv import apply_env_file, parse
from common.config.env import shown
from common.config.load import ConfigError, load_settings

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))


def problems(environ: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        load_settings(environ)
    return raised.value.problems


def test_every_bad_setting_is_one_problem_quoting_its_value():
    found = problems(
        {
            "LOG_LEVEL": "loud",
            "LOG_FORMAT": "xml",
            "REDIS_URL": "localhost:6379",
            "PUBLIC_BASE_URL": "images.example.com",
            "PORT": "eighty",
            "TRUST_PROXY_HEADERS": "maybe",
        }
    )
    assert len(found) == 6
    for name, value in (
        ("LOG_LEVEL", "'loud'"),
        ("LOG_FORMAT", "'xml'"),
        ("REDIS_URL", "'localhost:6379'"),
        ("PUBLIC_BASE_URL", "'images.example.com'"),
        ("PORT", "'eighty'"),
        ("TRUST_PROXY_HEADERS", "'maybe'"),
    ):
        assert any(p.startswith(name) and value in p for p in found), (name, found)
    assert any("redis://localhost:6379/0" in p for p in found)  # what it should look like


@pytest.mark.parametrize(
    "url", ["redis://127.0.0.1:6379/0", "rediss://:pw@cache.internal:6380/1", "unix:///run/r.sock"]
)
def test_good_redis_urls_pass(url):
    assert load_settings({"REDIS_URL": url}).redis_url == url


def test_a_secret_is_never_quoted():
    found = problems({"REDIS_URL": "redis://:hunter2@host:port/0", "RATE_LIMIT_PER_MINUTE": "x"})
    assert not any("hunter2" in p for p in found)
    assert shown("IMAGE_GEN_API_KEY_1", "sk-secret") == "(a secret, not shown)"
    assert "sk" not in shown("ENHANCE_OPENAI_BASE_URL", "https://user:sk@host/v1")


def test_the_example_files_placeholder_key_is_refused():
    [problem] = problems({"GATEWAY_API_KEY": "change-me"})
    assert "change-me" in problem and "GATEWAY_API_KEY" in problem


def test_look_alike_variables_are_warned_about_naming_the_real_one(caplog):
    env = {
        "IMAGE_GEN_MODEL_1": "sd",
        "IMAGE_GEN_API_BASE_1": "http://gpu:7860",
        "IMAGE_GEN_KIND1": "a1111",
        "REQEUST_TIMEOUT": "60",
    }
    with caplog.at_level(logging.WARNING, "imagegate.config"):
        load_settings(env)
        warnings = [r.getMessage() for r in caplog.records]
    assert any("IMAGE_GEN_KIND1" in w and "IMAGE_GEN_KIND_1" in w for w in warnings)
    assert any("REQEUST_TIMEOUT" in w and "REQUEST_TIMEOUT" in w for w in warnings)
    caplog.clear()
    with caplog.at_level(logging.WARNING, "imagegate.config"):
        found = problems({"IMAGE_GEN_MODLE_1": "m", "IMAGE_GEN_API_BASE_1": "http://x"})
    assert "IMAGE_GEN_MODEL_1" in found[0]  # the group is half-filled…
    assert any(  # …and the warning says why
        "IMAGE_GEN_MODLE_1" in r.getMessage() and "IMAGE_GEN_MODEL_1" in r.getMessage()
        for r in caplog.records
    )
    caplog.clear()
    with caplog.at_level(logging.WARNING, "imagegate.config"):
        load_settings({"PATH": "/bin", "HOME": "/root", "LANG": "C.UTF-8", "TERM": "xterm"})
    assert not caplog.records  # the usual environment is not ours to warn about


def test_kind_names_are_case_insensitive_and_keyless_kinds_need_no_key():
    settings = load_settings(
        {
            "IMAGE_GEN_MODEL_1": "sd-local",
            "IMAGE_GEN_API_BASE_1": "http://gpu:7860",
            "IMAGE_GEN_KIND_1": "A1111",
        }
    )
    [provider] = settings.providers
    assert provider.kind == "a1111" and provider.keys == ()
    [problem] = problems(
        {
            "IMAGE_GEN_MODEL_1": "kolors",
            "IMAGE_GEN_API_BASE_1": "https://api.siliconflow.cn/v1",
            "IMAGE_GEN_KIND_1": "SiliconFlow",
        }
    )
    assert "IMAGE_GEN_API_KEY_1" in problem  # siliconflow needs a key


def test_env_file_lines_as_docker_compose_reads_them():
    values, found = parse(
        "# comment\n\nexport A=1\nB = two words # note\nC='#not a comment'\nD=\"x\\ny\"\nbroken\n",
        ".env",
    )
    assert values == {"A": "1", "B": "two words", "C": "#not a comment", "D": "x\ny"}
    assert found == [".env line 7 is not NAME=value"]


def test_env_file_fills_in_and_the_environment_wins(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("PORT=9001\nHOST=0.0.0.0\n")
    environ = {"HOST": "127.0.0.2"}
    assert apply_env_file(environ) == []
    assert environ == {"HOST": "127.0.0.2", "PORT": "9001"}
    named = tmp_path / "other.env"
    named.write_text("PORT=9002\n")
    environ = {"IMAGEGATE_ENV_FILE": str(named)}
    apply_env_file(environ)
    assert environ["PORT"] == "9002"
    assert "does not exist" in apply_env_file({"IMAGEGATE_ENV_FILE": str(tmp_path / "no")})[0]


def test_every_command_reads_the_env_file_of_its_folder(tmp_path):
    (tmp_path / ".env").write_text(
        "IMAGE_GEN_MODEL_1=from-dotenv\nIMAGE_GEN_API_BASE_1=http://gpu:7860\n"
        "IMAGE_GEN_KIND_1=a1111\nREDIS_URL=localhost:6379\n"
    )
    run = subprocess.run(
        [sys.executable, "-m", "imagegate", "check-config"],
        cwd=tmp_path,
        env={"PATH": "", "PYTHONPATH": ROOT},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode == 2 and "REDIS_URL must be a URL" in run.stderr
    assert "'localhost:6379'" in run.stderr and "Traceback" not in run.stderr
    run = subprocess.run(
        [sys.executable, "-m", "imagegate", "check-config"],
        cwd=tmp_path,
        env={"PATH": "", "PYTHONPATH": ROOT, "REDIS_URL": "redis://127.0.0.1:6379/0"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode == 0 and "from-dotenv" in run.stdout


@pytest.mark.parametrize("value", ["both", "url", "b64_json"])
def test_images_response_format_takes_its_three_values(value):
    assert load_settings({"IMAGES_RESPONSE_FORMAT": value}).images_response_format == value


def test_images_response_format_refuses_anything_else_quoting_it():
    [problem] = problems({"IMAGES_RESPONSE_FORMAT": "base64"})
    assert problem.startswith("IMAGES_RESPONSE_FORMAT") and "'base64'" in problem
