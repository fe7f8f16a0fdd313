"""Admission: the per-key rate limit, the queue limit, the cache high-water mark (SPEC §2.4, §5)."""

import asyncio
import io
import os
import time

import httpx
import redis
from PIL import Image

from tests.gateway import Gateway

CHAT = "/v1/chat/completions"


def body(prompt: str = "a kite") -> dict:
    return {"model": "placeholder", "messages": [{"role": "user", "content": prompt}]}


def test_rate_limit_is_shared_by_every_api_process(start_gateway):
    first = start_gateway({"RATE_LIMIT_PER_MINUTE": "3"})
    second = Gateway(first.env["REDIS_URL"], {"RATE_LIMIT_PER_MINUTE": "3"}).start(workers=0)
    try:
        statuses = [
            httpx.post(
                f"{gateway.url}{CHAT}", json=body(), headers=gateway.headers(), timeout=30
            ).status_code
            for gateway in (first, second, first)
        ]
        assert statuses == [200, 200, 200]
        refused = httpx.post(
            f"{second.url}{CHAT}", json=body(), headers=second.headers(), timeout=30
        )
        assert refused.status_code == 429
        assert refused.json()["error"]["type"] == "rate_limit_error"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        # The three admitted were settled; the refused one left no job record behind.
        client = redis.Redis.from_url(first.env["REDIS_URL"])
        assert client.keys("arq:job:*") == []
        client.close()
        other_key = httpx.post(
            f"{first.url}{CHAT}",
            json=body(),
            headers={"Authorization": "Bearer second-key"},
            timeout=30,
        )
        assert other_key.status_code == 401  # only configured keys count; the limit is per key
    finally:
        second.stop()


async def test_past_the_queue_limit_nothing_is_enqueued(start_gateway):
    gateway = start_gateway({"MAX_QUEUE_DEPTH": "2"}, workers=0)
    gateway.park_a_worker()
    async with httpx.AsyncClient(
        base_url=gateway.url, headers=gateway.headers(), timeout=60
    ) as client:
        waiting = [
            asyncio.create_task(client.post(CHAT, json=body(f"queued {n}"))) for n in range(2)
        ]
        while redis.Redis.from_url(gateway.env["REDIS_URL"]).zcard("arq:queue") < 2:
            await asyncio.sleep(0.05)
        refused = await client.post(CHAT, json=body("one too many"))
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "queue_full"
        assert int(refused.headers["retry-after"]) > 0
        assert redis.Redis.from_url(gateway.env["REDIS_URL"]).zcard("arq:queue") == 2
        gateway.add_worker()
        assert [r.status_code for r in await asyncio.gather(*waiting)] == [200, 200]


def test_new_work_is_refused_when_the_cache_nears_redis_maxmemory(start_gateway):
    gateway = start_gateway()
    client = redis.Redis.from_url(gateway.env["REDIS_URL"])
    used = client.info("memory")["used_memory"]
    client.config_set("maxmemory", int(used / 0.95))  # 95 % full, past the 90 % high-water mark
    try:
        time.sleep(1.1)  # the api reads Redis memory at most once a second
        refused = httpx.post(
            f"{gateway.url}{CHAT}", json=body(), headers=gateway.headers(), timeout=30
        )
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "cache_full"
        assert "retry-after" in refused.headers
    finally:
        client.config_set("maxmemory", 0)
    time.sleep(1.1)
    assert (
        httpx.post(
            f"{gateway.url}{CHAT}", json=body(), headers=gateway.headers(), timeout=30
        ).status_code
        == 200
    )


WEBHOOKS = {
    "WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
}
HOOK = {"webhook_url": "http://127.0.0.1:9/hook"}
# A job with a record: in the background, with a webhook, or both.
TRACKED = [({"Prefer": "respond-async"}, {}), ({}, HOOK), ({"Prefer": "respond-async"}, HOOK)]


def jobs_left(gateway) -> tuple[list, list]:
    """What the caller can list, and every job record in Redis."""
    listed = httpx.get(f"{gateway.url}/v1/jobs", headers=gateway.headers()).json()["data"]
    records = redis.Redis.from_url(gateway.env["REDIS_URL"]).keys("imagegate:job:*:record")
    return listed, records


def test_a_request_refused_for_want_of_workers_leaves_no_job(start_gateway):
    gateway = start_gateway(WEBHOOKS, workers=0)
    for headers, extra in TRACKED:
        refused = httpx.post(
            f"{gateway.url}{CHAT}",
            json={**body(), **extra},
            headers={**gateway.headers(), **headers},
            timeout=30,
        )
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "no_workers"
    assert jobs_left(gateway) == ([], [])


def test_a_rate_limited_request_leaves_no_job(start_gateway):
    gateway = start_gateway({**WEBHOOKS, "RATE_LIMIT_PER_MINUTE": "1"}, workers=0)
    gateway.park_a_worker()
    admitted = httpx.post(
        f"{gateway.url}{CHAT}",
        json=body(),
        headers={**gateway.headers(), "Prefer": "respond-async"},
        timeout=30,
    )
    assert admitted.status_code == 202
    for headers, extra in TRACKED:
        refused = httpx.post(
            f"{gateway.url}{CHAT}",
            json={**body(), **extra},
            headers={**gateway.headers(), **headers},
            timeout=30,
        )
        assert refused.status_code == 429
    listed, records = jobs_left(gateway)
    assert [job["id"] for job in listed] == [admitted.json()["id"]] and len(records) == 1


def test_a_refused_edit_leaves_no_job_record(start_gateway):
    """An edit's record (its images inside) is written beside the admission script; a refusal
    takes it away again."""
    gateway = start_gateway({"RATE_LIMIT_PER_MINUTE": "1"})
    noise = io.BytesIO()
    Image.frombytes("RGB", (256, 256), os.urandom(256 * 256 * 3)).save(noise, "PNG")
    assert noise.tell() > 64 * 1024

    def edit() -> httpx.Response:
        return httpx.post(
            f"{gateway.url}/v1/images/edits",
            headers=gateway.headers(),
            files=[("image", ("in.png", noise.getvalue(), "image/png"))],
            data={"model": "placeholder", "prompt": "make it night"},
            timeout=30,
        )

    assert edit().status_code == 200
    assert edit().status_code == 429
    client = redis.Redis.from_url(gateway.env["REDIS_URL"])
    assert client.keys("arq:job:*") == []
    client.close()
