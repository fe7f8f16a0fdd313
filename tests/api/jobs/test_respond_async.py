"""Prefer: respond-async is a 202 with the job object even when the job has ended before that
answer is made (an instant upstream): only `wait=N` turns a finished job into the route's 200.

In process, with the worker's end of the job written straight after the enqueue."""

import json
import time

import pytest
import redis
from litestar.testing import AsyncTestClient

from api.app import create_app
from api.jobs.wait import JobClient
from common.config.load import load_settings
from common.store import keys
from tests.e2e.test_chat_completions import openai_env

KEY = "ig-test-key"
HEADERS = {"Authorization": f"Bearer {KEY}"}
ANSWER = {"created": 1, "data": [{"url": "http://gateway.test/image/done.png"}]}


@pytest.fixture(scope="module")
async def client(redis_server):
    redis_server.flush()
    submit = JobClient.submit

    async def submit_and_end_at_once(self, job, **options):
        job_id = await submit(self, job, **options)
        ended = {
            "status": "succeeded",
            "finished_at": int(time.time()),
            "result": json.dumps(ANSWER),
        }
        await self._redis.hset(keys.background_job(job_id), mapping=ended)
        return job_id

    # No worker runs: the upstream is never called.
    env = {
        "GATEWAY_API_KEY": KEY,
        "REDIS_URL": redis_server.url,
        **openai_env("http://127.0.0.1:9"),
    }
    settings = load_settings(env)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(JobClient, "submit", submit_and_end_at_once)
        async with AsyncTestClient(create_app(settings)) as client:
            # A worker's heartbeat, so admission takes the job.
            with redis.Redis.from_url(redis_server.url) as direct:
                direct.zadd(keys.WORKERS, {"test-worker": time.time()})
            yield client


@pytest.mark.parametrize("prefer", ["respond-async", "respond-async, wait=0"])
async def test_a_job_that_ended_before_its_answer_is_still_a_202(client, prefer):
    body = {"model": "flux-dev", "prompt": "a kettle", "enhance": False}
    answer = await client.post(
        "/v1/images/generations", json=body, headers={**HEADERS, "Prefer": prefer}
    )
    assert answer.status_code == 202, answer.text
    job = answer.json()
    assert job["object"] == "image.job"
    assert (job["status"], job["result"]) == ("succeeded", ANSWER)
    assert answer.headers["location"].endswith(f"/v1/jobs/{job['id']}")


async def test_with_wait_a_job_that_ended_is_the_routes_answer(client):
    body = {"model": "flux-dev", "prompt": "a kettle", "enhance": False}
    answer = await client.post(
        "/v1/images/generations", json=body, headers={**HEADERS, "Prefer": "wait=1"}
    )
    assert answer.status_code == 200
    assert answer.json() == ANSWER
