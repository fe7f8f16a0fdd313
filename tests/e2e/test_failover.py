"""Key failover through the real processes: benches and rotation shared by worker processes through
Redis, and each failure answered to the client as SPEC §2.3 says."""

import httpx
import pytest

from tests.fakes.openai_images import GENERATIONS, start_openai_images
from tests.gateway import Gateway

BEHAVIOUR = {"sk-500": "server_error", "sk-429": "rate_limited"}
GOOD = ("sk-good-1", "sk-good-2", "sk-good-3")
PROVIDERS = (  # public model name, keys: one provider each (image-gen-n), with its own cursor and benches
    ("bench", "sk-good-0,sk-revoked"),
    ("rotate", ",".join(GOOD)),
    ("dead", "sk-revoked-2"),
    ("limited", "sk-429"),
    ("failing", "sk-good-1,sk-500"),
)
SLOW_PROVIDER = """
[[providers]]
name = "slow"
kind = "openai"
base_url = "{url}/v1"
keys = ["sk-good-1", "sk-good-2"]
timeout = 1
models = ["slow=flux-dev"]
"""


@pytest.fixture(scope="module")
def upstream():
    server, fake = start_openai_images(valid_keys=("sk-good-0", *GOOD), key_behaviour=BEHAVIOUR)
    with server:
        yield server, fake


def environment(server, tmp_path) -> dict[str, str]:
    env = {}
    for n, (model, keys) in enumerate(PROVIDERS, start=1):
        env |= {
            f"IMAGE_GEN_MODEL_{n}": f"{model}=flux-dev",
            f"IMAGE_GEN_API_BASE_{n}": f"{server.url}/v1",
            f"IMAGE_GEN_API_KEY_{n}": keys,
            f"IMAGE_GEN_KIND_{n}": "openai",
        }
    config = tmp_path / "imagegate.toml"
    config.write_text(SLOW_PROVIDER.format(url=server.url))
    return env | {"IMAGEGATE_CONFIG": str(config)}


@pytest.fixture(scope="module")
def gateway(redis_server, upstream, tmp_path_factory):
    redis_server.flush()
    with Gateway(
        redis_server.url, environment(upstream[0], tmp_path_factory.mktemp("cfg"))
    ).start() as gateway:
        yield gateway


def generate(gateway: Gateway, model: str, prompt: str = "a lighthouse") -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": prompt}]}
    return httpx.post(
        f"{gateway.url}/v1/chat/completions", json=body, headers=gateway.headers(), timeout=60
    )


def keys_used(server) -> list[str]:
    return [
        r.headers["authorization"].removeprefix("Bearer ") for r in server.requests_to(GENERATIONS)
    ]


def test_benches_and_rotation_are_shared_by_worker_processes(start_gateway, upstream, tmp_path):
    server, _ = upstream
    gateway = start_gateway(environment(server, tmp_path))
    server.clear()
    for model in ("bench", "rotate", "rotate"):  # bench's first request starts at its second key
        assert generate(gateway, model).status_code == 200
    first = gateway.workers[0]
    first.stop()
    gateway.add_worker()
    gateway.wait_until_healthy(1)  # no job is admitted while no worker is alive
    for model in ("bench", "bench", "rotate", "rotate"):
        assert generate(gateway, model).status_code == 200
    assert first.popen.poll() is not None  # so the second process made all of these
    used = keys_used(server)
    assert used.count("sk-revoked") == 1  # benched by the first process, skipped by the second
    # The second process goes on from where the first stopped: the counter lives in Redis.
    assert [key for key in used if key in GOOD] == [
        "sk-good-2",
        "sk-good-3",
        "sk-good-1",
        "sk-good-2",
    ]


def test_every_key_refused_is_502_then_answered_at_once(gateway, upstream):
    server, _ = upstream
    server.clear()
    first = generate(gateway, "dead")
    assert first.status_code == 502 and first.headers["x-should-retry"] == "false"
    error = first.json()["error"]
    assert (
        error["code"] == "upstream_failed"
        and "image-gen-3" in error["message"]
        and "sk-revoked" not in first.text
    )
    again = generate(gateway, "dead")
    assert again.status_code == 502 and 590 <= int(again.headers["retry-after"]) <= 600
    assert keys_used(server) == ["sk-revoked-2"]


def test_every_key_rate_limited_is_429_with_retry_after(gateway, upstream):
    server, _ = upstream
    server.clear()
    first = generate(gateway, "limited")
    assert first.status_code == 429 and first.headers["retry-after"] == "7"
    assert (
        first.json()["error"]["code"] == "upstream_rate_limited"
        and "image-gen-4" in first.json()["error"]["message"]
    )
    again = generate(gateway, "limited")
    assert again.status_code == 429 and 1 <= int(again.headers["retry-after"]) <= 7
    assert keys_used(server) == ["sk-429"]


def test_streaming_clients_see_the_key_fail_over(gateway):
    chunks = list(
        gateway.client().chat.completions.create(
            model="failing", messages=[{"role": "user", "content": "a lighthouse"}], stream=True
        )
    )
    reasoning = "".join(
        getattr(c.choices[0].delta, "reasoning_content", None) or "" for c in chunks if c.choices
    )
    assert "Generating an image with failing via image-gen-5" in reasoning
    assert "Key 2 of 2 of image-gen-5 failed (unavailable); failing over to key 1" in reasoning
    assert "![" in "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


@pytest.mark.parametrize(
    ("model", "prompt", "status", "code", "words"),
    [
        ("rotate", "a lighthouse __moderation__", 400, "content_policy_violation", "safety system"),
        (
            "rotate",
            "a lighthouse __badmodel__",
            502,
            "upstream_misconfigured",
            "check its configuration",
        ),
        (
            "slow",
            "a lighthouse __slow:3__",
            502,
            "upstream_failed",
            "not retried",
        ),  # the read timed out
    ],
)
def test_failures_no_other_key_can_fix_are_not_retried(
    gateway, upstream, model, prompt, status, code, words
):
    server, _ = upstream
    server.clear()
    response = generate(gateway, model, prompt)
    assert response.status_code == status and response.headers["x-should-retry"] == "false"
    error = response.json()["error"]
    assert error["code"] == code and words in error["message"]
    assert server.url.removeprefix("http://") not in response.text
    assert len(keys_used(server)) == 1
