"""Process life for real: signals, a private redis-server that never outlives serve, a busy
port, and every command started before its Redis."""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pytest

from imagegate.redis_server import RedisProcess, free_port
from tests.e2e.test_chat_completions import image_urls, openai_env
from tests.gateway import Gateway, Served

CHAT = "/v1/chat/completions"


def chat(prompt: str) -> dict:
    return {"model": "flux-dev", "messages": [{"role": "user", "content": prompt}]}


def children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def is_running(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status  # a zombie has exited, only its parent has not looked


def wait_until_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_running(pid):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def tmpdir_env():
    """A TMPDIR of its own for the process under test, so its leftovers can be seen."""
    with tempfile.TemporaryDirectory(prefix="imagegate-life-") as folder:
        yield folder


def serve(tmpdir: str, **env: str) -> Served:
    return Served({"PATH": os.environ.get("PATH", ""), "TMPDIR": tmpdir, **env})


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_drains_then_stops_its_redis_on_sigterm_and_sigint_alike(
    sig, tmpdir_env, openai_upstream
):
    upstream, fake = openai_upstream
    served = serve(tmpdir_env, **openai_env(upstream.url))
    try:
        [redis_pid] = children(served.process.pid)
        answer: dict = {}
        request = threading.Thread(
            target=lambda: answer.update(
                response=httpx.post(
                    f"{served.url}{CHAT}",
                    json=chat("__slow:1.5__ a lighthouse"),
                    headers={"Authorization": f"Bearer {served.key}"},
                    timeout=30,
                )
            )
        )
        request.start()
        while not upstream.requests_to("/v1/images/generations"):
            time.sleep(0.02)
        served.process.send_signal(sig)
        request.join(30)
        assert answer["response"].status_code == 200  # the job in flight finished first
        assert image_urls(answer["response"].json()["choices"][0]["message"]["content"])
        assert served.process.wait(20) == 0
    finally:
        if served.process.poll() is None:
            served.process.kill()
            served.process.wait()
        upstream.clear()
    assert wait_until_gone(redis_pid)
    assert os.listdir(tmpdir_env) == []  # no redis folder left behind
    assert "Traceback" not in served.process.stdout.read()


def test_the_private_redis_dies_with_a_killed_serve(tmpdir_env):
    served = serve(tmpdir_env)
    [redis_pid] = children(served.process.pid)
    served.process.kill()
    served.process.wait()
    assert wait_until_gone(redis_pid)
    assert os.listdir(tmpdir_env) == []


def test_a_busy_port_is_one_line_and_no_banner():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for command in ("serve", "api"):
            result = subprocess.run(
                [sys.executable, "-m", "imagegate", command, "--port", str(port)],
                env={"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")},
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert result.returncode == 1
            assert f"cannot listen on 127.0.0.1:{port}: the port is already in use" in result.stderr
            assert "API key" not in result.stderr + result.stdout
            assert "Traceback" not in result.stderr


def test_api_and_worker_started_before_redis_wait_for_it_then_work(openai_upstream):
    upstream, fake = openai_upstream
    redis = RedisProcess(port=free_port())
    gateway = Gateway(redis.url, openai_env(upstream.url)).start(workers=0)
    try:
        worker = gateway.add_worker()
        down = httpx.post(f"{gateway.url}{CHAT}", json=chat("a dam"), headers=gateway.headers())
        assert down.status_code == 503 and down.json()["error"]["code"] == "redis_unavailable"
        while "Redis is not answering" not in worker.logs():
            time.sleep(0.05)
        time.sleep(1.5)  # a few retries: they are not logged again
        redis.start()
        gateway.wait_until_healthy(1)
        answer = gateway.client().chat.completions.create(**chat("a dam"))
        assert (
            httpx.get(image_urls(answer.choices[0].message.content)[0]).content
            == (fake.produced[-1])
        )
        logs = gateway.logs()
        assert worker.logs().count("Redis is not answering") == 1
        assert worker.logs().count(" ready: ") == 1
        assert logs.count("event subscription lost") == 1 and "Traceback" not in logs
    finally:
        gateway.stop()
        redis.stop()


def test_serve_started_before_redis_works_once_redis_answers(tmpdir_env):
    redis = RedisProcess(port=free_port())
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "imagegate", "serve", "--port", str(port)],
        env={
            "PATH": os.environ.get("PATH", ""),
            "REDIS_URL": redis.url,
            "GATEWAY_API_KEY": "ig-life",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    url, headers = f"http://127.0.0.1:{port}", {"Authorization": "Bearer ig-life"}
    body = {"messages": [{"role": "user", "content": "a kite"}]}
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                refused = httpx.post(f"{url}{CHAT}", json=body, headers=headers)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        assert refused.status_code == 503  # nothing accepted that nobody could take
        redis.start()
        while httpx.get(f"{url}/health").status_code != 200:
            assert process.poll() is None
            time.sleep(0.05)
        answer = httpx.post(f"{url}{CHAT}", json=body, headers=headers, timeout=30)
        assert (
            answer.status_code == 200 and "![" in answer.json()["choices"][0]["message"]["content"]
        )
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
        redis.stop()
    assert "Traceback" not in process.stdout.read()


def test_health_is_back_as_soon_as_generations_succeed_after_a_redis_restart():
    with RedisProcess() as redis, Gateway(redis.url).start() as gateway:
        redis.kill()
        redis.start()  # empty: the workers' heartbeats are gone with the old data
        body = {"model": "placeholder", "messages": [{"role": "user", "content": "a kite"}]}
        while (
            answer := httpx.post(f"{gateway.url}{CHAT}", json=body, headers=gateway.headers())
        ).status_code == 503:
            assert answer.json()["error"]["code"] in ("redis_unavailable", "no_workers")
            time.sleep(0.05)
        assert answer.status_code == 200
        assert httpx.get(f"{gateway.url}/health").status_code == 200
