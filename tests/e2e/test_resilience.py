"""Faults for real: Redis stopped and restarted, a worker killed mid-job, a worker told to stop."""

import asyncio
import signal
import threading
import time

import httpx
import pytest
import redis

from imagegate.redis_server import RedisProcess
from tests.e2e.test_chat_completions import image_urls, openai_env
from tests.gateway import Gateway

CHAT = "/v1/chat/completions"


def request(prompt: str, **extra) -> dict:
    return {"model": "flux-dev", "messages": [{"role": "user", "content": prompt}], **extra}


def upstream_calls(server) -> int:
    return len(server.requests_to("/v1/images/generations"))


async def wait_for_upstream_calls(server, count: int) -> None:
    while upstream_calls(server) < count:
        await asyncio.sleep(0.02)


@pytest.fixture
def own_redis():
    with RedisProcess() as redis:
        yield redis


def test_redis_down_is_a_fast_503_and_both_processes_recover(own_redis, openai_upstream):
    server, fake = openai_upstream
    with Gateway(own_redis.url, openai_env(server.url)).start() as gateway:
        own_redis.kill()
        refused = httpx.post(
            f"{gateway.url}{CHAT}", json=request("a mill"), headers=gateway.headers(), timeout=5
        )
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "redis_unavailable"
        assert "retry-after" in refused.headers
        assert httpx.get(f"{gateway.url}/health", timeout=5).status_code == 503
        own_redis.start()  # same port, no restart of api or worker
        gateway.wait_until_healthy(1)
        answer = gateway.client().chat.completions.create(**request("a mill"))
        assert (
            httpx.get(image_urls(answer.choices[0].message.content)[0]).content == fake.produced[-1]
        )


@pytest.mark.parametrize("stream", [False, True], ids=["wait", "stream"])
async def test_a_job_whose_worker_is_killed_runs_again_elsewhere(
    own_redis, openai_upstream, stream
):
    server, fake = openai_upstream
    server.clear()
    with Gateway(
        own_redis.url, {**openai_env(server.url), "JOB_LEASE_SECONDS": "3"}
    ).start() as gateway:
        client = gateway.async_client()
        answer = asyncio.create_task(
            client.chat.completions.create(**request("__slow:2__ a ship", stream=stream))
        )
        await wait_for_upstream_calls(server, 1)
        gateway.workers[0].signal(signal.SIGKILL)
        gateway.add_worker()
        result = await asyncio.wait_for(answer, 60)
        if stream:
            content = "".join([c.choices[0].delta.content or "" async for c in result if c.choices])
        else:
            content = result.choices[0].message.content
        assert httpx.get(image_urls(content)[0]).content == fake.produced[-1]
        assert upstream_calls(server) == 2  # the killed attempt never finished: one retry, no more


async def test_sigterm_lets_the_running_job_finish(own_redis, openai_upstream):
    server, fake = openai_upstream
    server.clear()
    with Gateway(own_redis.url, openai_env(server.url)).start() as gateway:
        answer = asyncio.create_task(
            gateway.async_client().chat.completions.create(**request("__slow:1.5__ a barge"))
        )
        await wait_for_upstream_calls(server, 1)
        worker = gateway.workers[0]
        worker.signal(signal.SIGTERM)
        result = await asyncio.wait_for(answer, 30)
        assert (
            httpx.get(image_urls(result.choices[0].message.content)[0]).content == fake.produced[-1]
        )
        assert await asyncio.to_thread(worker.popen.wait, 30) == 0
        assert upstream_calls(server) == 1


async def test_a_job_nobody_waits_for_any_more_expires_instead_of_running(
    own_redis, openai_upstream
):
    server, _ = openai_upstream
    server.clear()
    with Gateway(own_redis.url, {**openai_env(server.url), "REQUEST_TIMEOUT": "1"}).start(
        workers=0
    ) as gateway:
        gateway.park_a_worker()
        timed_out = httpx.post(
            f"{gateway.url}{CHAT}", json=request("a raft"), headers=gateway.headers(), timeout=10
        )
        assert timed_out.status_code == 504 and timed_out.headers["x-should-retry"] == "false"
        job_id = timed_out.json()["error"]["message"].split("job ")[1].rstrip(")")
        gateway.add_worker()
        gateway.wait_until_healthy(2)  # the parked one and the real one
        time.sleep(1)
        assert upstream_calls(server) == 0
        assert job_id and job_id in timed_out.json()["error"]["message"]


def test_image_and_metrics_answer_503_while_redis_is_down(own_redis, openai_upstream):
    server, _ = openai_upstream
    with Gateway(own_redis.url, openai_env(server.url)).start() as gateway:
        answer = gateway.client().images.generate(model="flux-dev", prompt="a mill")
        image = answer.data[0].url
        own_redis.kill()
        for url in (image, f"{gateway.url}/metrics"):
            refused = httpx.get(url, timeout=10)
            assert refused.status_code == 503, (url, refused.text)
            assert refused.json()["error"]["code"] == "redis_unavailable"
            assert "retry-after" in refused.headers
        own_redis.start()
        gateway.wait_until_healthy(1)
        # The restarted Redis lost its data: the image is gone, said as a JSON 404.
        assert httpx.get(image, timeout=10).json()["error"]["code"] == "not_found"
        assert httpx.get(f"{gateway.url}/metrics", timeout=10).status_code == 200


def test_the_workers_trim_the_expiry_index_without_a_scrape(own_redis, openai_upstream):
    server, _ = openai_upstream
    with Gateway(own_redis.url, {**openai_env(server.url), "IMAGE_EXPIRATION": "1"}).start() as gw:
        gw.client().images.generate(model="flux-dev", prompt="a mill")
        client = redis.Redis.from_url(own_redis.url)
        assert client.zcard("imagegate:image-expiries") == 1
        deadline = time.monotonic() + 30
        while client.zcard("imagegate:image-expiries") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert client.zcard("imagegate:image-expiries") == 0  # no /metrics was asked for
        assert int(client.get("imagegate:image-bytes")) == 0


def test_a_queued_job_lost_with_redis_data_fails_its_client_fast(own_redis, openai_upstream):
    server, _ = openai_upstream
    server.clear()
    env = {**openai_env(server.url), "REQUEST_TIMEOUT": "100", "WORKER_CONCURRENCY": "1"}
    with Gateway(own_redis.url, env).start() as gateway:
        answers: dict[str, httpx.Response] = {}

        def ask(prompt: str) -> threading.Thread:
            def run() -> None:
                answers[prompt] = httpx.post(
                    f"{gateway.url}{CHAT}",
                    json=request(prompt),
                    headers=gateway.headers(),
                    timeout=110,
                )

            thread = threading.Thread(target=run)
            thread.start()
            return thread

        busy = ask("a mill __slow:8__")  # holds the only slot
        deadline = time.monotonic() + 20
        while not upstream_calls(server) and time.monotonic() < deadline:
            time.sleep(0.05)
        queued = ask("a barn")
        client = redis.Redis.from_url(own_redis.url)
        while client.zcard("arq:queue") < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.zcard("arq:queue") == 2
        own_redis.kill()
        own_redis.start()  # an empty Redis on the same port: the queued job is gone
        queued.join(30)  # far inside REQUEST_TIMEOUT
        assert "a barn" in answers, "the client still waits for a job that no longer exists"
        lost = answers["a barn"]
        assert lost.status_code == 503 and "was lost" in lost.json()["error"]["message"]
        assert "retry-after" in lost.headers
        busy.join(30)
