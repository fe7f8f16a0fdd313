"""What operators see: /metrics for the fleet, request ids across processes, logs without secrets."""

import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from imagegate.redis_server import RedisProcess
from tests.e2e.test_chat_completions import image_urls, openai_env
from tests.gateway import Gateway

CHAT = "/v1/chat/completions"


def scrape(gateway, **headers) -> dict[str, list]:
    page = httpx.get(f"{gateway.url}/metrics", headers=headers)
    assert page.status_code == 200, page.text
    return {family.name: family.samples for family in text_string_to_metric_families(page.text)}


def sample(samples: list, name: str, **labels) -> float:
    return sum(s.value for s in samples if s.name == name and labels.items() <= s.labels.items())


def test_metrics_cover_requests_jobs_queue_and_cache(start_gateway, openai_upstream):
    server, fake = openai_upstream
    gateway = start_gateway(openai_env(server.url, keys="sk-upstream-500,sk-upstream-good"))
    client = gateway.client()
    urls = [
        image_urls(
            client.chat.completions.create(
                model="flux-dev", messages=[{"role": "user", "content": f"a gull {n}"}]
            )
            .choices[0]
            .message.content
        )[0]
        for n in range(2)
    ]
    families = scrape(gateway)
    requests = families["imagegate_http_requests"]
    assert (
        sample(
            requests, "imagegate_http_requests_total", route="/v1/chat/completions", status="200"
        )
        == 2
    )
    jobs = families["imagegate_job_duration_seconds"]
    assert (
        sample(
            jobs,
            "imagegate_job_duration_seconds_count",
            provider="image-gen-1",
            model="flux-dev",
            outcome="completed",
        )
        == 2
    )
    cached = sum(len(httpx.get(url).content) for url in urls)
    assert sample(families["imagegate_cached_bytes"], "imagegate_cached_bytes") == cached
    assert sample(families["imagegate_queue_depth"], "imagegate_queue_depth") == 0
    assert sample(families["imagegate_workers"], "imagegate_workers") == 1
    assert sample(families["imagegate_waiting_requests"], "imagegate_waiting_requests") == 0
    # the two keys took turns first: one request met the failing key, logged as a 500, then failed over
    assert (
        sample(
            families["imagegate_upstream_errors"],
            "imagegate_upstream_errors_total",
            provider="image-gen-1",
            status="500",
        )
        == 1
    )
    assert (
        sample(families["imagegate_failovers"], "imagegate_failovers_total", provider="image-gen-1")
        == 1
    )


def test_metrics_key_guards_the_page(start_gateway):
    gateway = start_gateway({"METRICS_KEY": "scrape-me"})
    assert httpx.get(f"{gateway.url}/metrics").status_code == 401
    assert "imagegate_workers" in scrape(gateway, Authorization="Bearer scrape-me")


def test_the_request_id_follows_the_job_into_the_worker(start_gateway):
    gateway = start_gateway()
    answer = httpx.post(
        f"{gateway.url}{CHAT}",
        json={"messages": [{"role": "user", "content": "a tern"}]},
        headers={**gateway.headers(), "X-Request-ID": "trace-4711"},
        timeout=30,
    )
    assert answer.headers["x-request-id"] == "trace-4711"
    time.sleep(0.2)
    worker_log = gateway.workers[0].logs()
    assert '"request_id": "trace-4711"' in worker_log and '"message": "job finished"' in worker_log
    assert httpx.get(f"{gateway.url}/health").headers["x-request-id"]  # made up when none is sent


async def test_a_client_that_leaves_a_stream_leaves_nothing_waiting(start_gateway, openai_upstream):
    server, fake = openai_upstream
    gateway = start_gateway(openai_env(server.url))
    produced = len(fake.produced)
    stream = await gateway.async_client().chat.completions.create(
        model="flux-dev", messages=[{"role": "user", "content": "__slow:1__ a heron"}], stream=True
    )
    async for _chunk in stream:
        break  # the role chunk: the job is queued, the client leaves
    await stream.close()
    for _ in range(100):
        if sample(scrape(gateway)["imagegate_waiting_requests"], "imagegate_waiting_requests") == 0:
            break
        time.sleep(0.05)
    assert sample(scrape(gateway)["imagegate_waiting_requests"], "imagegate_waiting_requests") == 0
    for _ in range(100):  # the job was not cancelled: its image is still made and cached
        if len(fake.produced) > produced:
            break
        time.sleep(0.05)
    assert len(fake.produced) == produced + 1


def test_no_secret_reaches_an_answer_or_a_log_line(openai_upstream):
    server, _ = openai_upstream
    secrets = {
        "gateway": "ig-gateway-secret-1",
        "bad": "sk-upstream-bad-secret",
        "redis": "redis-password-77",
    }
    with RedisProcess() as redis_process:
        import redis

        redis.Redis(port=redis_process.port).config_set("requirepass", secrets["redis"])
        url = f"redis://:{secrets['redis']}@127.0.0.1:{redis_process.port}/0"
        env = openai_env(server.url, keys=f"{secrets['bad']},sk-upstream-500")
        with Gateway(url, env, gateway_key=secrets["gateway"]).start() as gateway:
            answers = [
                httpx.post(
                    f"{gateway.url}{CHAT}",
                    json={"model": "flux-dev", "messages": [{"role": "user", "content": prompt}]},
                    headers=gateway.headers(),
                    timeout=30,
                ).text
                for prompt in ("a crane", "__moderation__ a crane", "__badmodel__ a crane")
            ]
            answers.append(
                httpx.post(
                    f"{gateway.url}{CHAT}", json={}, headers={"Authorization": "Bearer wrong"}
                ).text
            )
            logs = gateway.logs()
    host = server.url.removeprefix("http://")
    for text in [*answers, logs]:
        for secret in [*secrets.values(), host]:
            assert secret not in text
    assert (
        '"level": "warning"' in logs or '"status": 502' in logs
    )  # the failures were logged, safely


def test_a_client_that_stops_waiting_leaves_nothing_waiting(start_gateway, openai_upstream):
    server, _ = openai_upstream
    gateway = start_gateway(openai_env(server.url))
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{gateway.url}{CHAT}",
            json={
                "model": "flux-dev",
                "messages": [{"role": "user", "content": "__slow:3__ an egret"}],
            },
            headers=gateway.headers(),
            timeout=0.5,
        )
    for _ in range(40):  # well before the job's 3 s: the wait ended with the connection
        if sample(scrape(gateway)["imagegate_waiting_requests"], "imagegate_waiting_requests") == 0:
            break
        time.sleep(0.05)
    assert sample(scrape(gateway)["imagegate_waiting_requests"], "imagegate_waiting_requests") == 0
    assert (
        sample(
            scrape(gateway)["imagegate_http_requests"],
            "imagegate_http_requests_total",
            status="499",
        )
        == 1
    )
