"""Hostile upstream answers replayed through the real processes: each ends in a bounded answer,
the worker under its memory bound, the upstream paid once, and the next request served."""

from pathlib import Path

import httpx
import pytest

from tests.fakes.hostile import GENERATIONS, start_hostile
from tests.gateway import Gateway

# The worker starts near 60 MB; the bomb inflates to 1.2 GB unless the cap stops it at 20 MB.
WORKER_PEAK_RSS = 300 * 2**20
SECRETS_OF_THE_NETWORK = ("10.1.2.3", "6379", "internal-render", "8080", "fd00", "9000")


@pytest.fixture(scope="module")
def upstream():
    server, fake = start_hostile()
    with server:
        yield server, fake


@pytest.fixture(scope="module")
def gateway(redis_server, upstream):
    redis_server.flush()
    env = {
        "IMAGE_GEN_MODEL_1": "hostile=gpt-image-1",
        "IMAGE_GEN_API_BASE_1": f"{upstream[0].url}/v1",
        # Two keys: an answer another key cannot fix must not be paid for twice.
        "IMAGE_GEN_API_KEY_1": "sk-hostile-1,sk-hostile-2",
        "IMAGE_GEN_KIND_1": "openai",
    }
    with Gateway(redis_server.url, env).start() as gateway:
        yield gateway


def generate(gateway: Gateway, prompt: str, n: int = 1) -> httpx.Response:
    return httpx.post(
        f"{gateway.url}/v1/images/generations",
        json={"model": "hostile", "prompt": prompt, "n": n},
        headers=gateway.headers(),
        timeout=60,
    )


def calls(server, prompt: str) -> int:
    return sum(1 for body in server.json_bodies(GENERATIONS) if body["prompt"] == prompt)


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc")


def assert_served_next(gateway: Gateway) -> None:
    answer = generate(gateway, "a calm lake")
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"][0]["url"]


@pytest.mark.parametrize(
    ("prompt", "words"),
    [
        ("__gzip_bomb__", "larger than 20 MB"),
        ("__deep_json__", "nested too deep"),
        ("__deep_error__", "nested too deep"),
        ("__empty_data__", "without images"),
        ("__huge_sides__", "100000x100000"),
    ],
)
def test_an_unusable_answer_is_one_paid_call_and_a_502(gateway, upstream, prompt, words):
    answer = generate(gateway, prompt)
    assert answer.status_code == 502, answer.text
    error = answer.json()["error"]
    assert error["type"] == "upstream_error" and words in error["message"]
    assert answer.headers["x-should-retry"] == "false"
    assert calls(upstream[0], prompt) == 1  # not retried on the second key
    assert_served_next(gateway)


def test_a_gzip_bomb_leaves_the_worker_under_its_memory_bound(gateway, upstream):
    upstream[1].bomb()  # built before the clock starts
    for n in range(3):
        assert generate(gateway, f"__gzip_bomb__ {n}").status_code == 502
    assert peak_rss(gateway.workers[0].popen.pid) < WORKER_PEAK_RSS


def test_no_more_images_are_downloaded_than_asked_for(gateway, upstream):
    upstream[1].downloads.clear()
    answer = generate(gateway, "__fifty_urls__", n=2)
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["data"]) == 2
    assert sum(upstream[1].downloads.values()) == 2


def test_upstream_error_text_reaches_the_client_without_addresses(gateway):
    answer = generate(gateway, "__address_error__")
    assert answer.status_code == 502
    error = answer.json()["error"]
    assert error["code"] == "upstream_misconfigured" and "renderer at" in error["message"]
    for secret in SECRETS_OF_THE_NETWORK:
        assert secret not in error["message"]


def test_another_port_of_the_providers_own_host_is_refused(gateway, upstream, redis_server):
    # The provider lives on 127.0.0.1 too, but only its own port is exempt from the SSRF rule.
    redis_port = httpx.URL(redis_server.url).port
    prompt = f"__other_port__ http://127.0.0.1:{redis_port}/image.png"
    answer = generate(gateway, prompt)
    assert answer.status_code == 502
    assert "private address" in answer.json()["error"]["message"]
    assert str(redis_port) not in answer.json()["error"]["message"]
    own = generate(gateway, f"__other_port__ {upstream[0].url}/files/own")
    assert own.status_code == 200, own.text


def test_nul_and_bidi_controls_never_reach_the_upstream_or_the_answer(gateway, upstream):
    answer = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={
            "model": "hostile",
            "messages": [{"role": "user", "content": "a red\x00 kite \u202eetis.live\u202c now"}],
        },
        headers=gateway.headers(),
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    sent = upstream[0].json_bodies(GENERATIONS)[-1]["prompt"]
    assert sent.startswith("a red kite etis.live now")
    content = answer.json()["choices"][0]["message"]["content"]
    assert not any(c in content for c in "\x00\u202e\u202c")
