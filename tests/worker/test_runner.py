"""Running a picked-up job as arq's run_job would: its try counted, its limits kept, and a
job cut short by a stopping worker left to run again."""

import asyncio

import pytest
from arq.worker import func

from common.store.arq_compat import bookkeeping_keys, lease_key, worker_kwargs
from common.store.redis import job_deserializer, job_serializer
from worker.loop import ImageWorker
from worker.pickup import pick_up_due
from worker.runner import run_picked
from worker.settings import WorkerSettings

QUEUE = "arq:queue"


@pytest.fixture
def ran():
    return []


@pytest.fixture
def worker(redis, ran):
    async def generate(ctx, payload):
        ran.append((payload, ctx["job_try"]))
        if payload == "hang":
            await asyncio.Event().wait()

    return ImageWorker(
        functions=[func(generate, name="generate", max_tries=3, timeout=0.2)],
        redis_pool=redis,
        handle_signals=False,
        keep_result=0,
        job_serializer=job_serializer,
        job_deserializer=job_deserializer,
    )


async def pick_one(redis):
    [job] = (await pick_up_due(redis, QUEUE, 10, 30, 100)).jobs
    return job


async def test_a_job_runs_once_with_its_try_and_leaves_no_bookkeeping(redis, worker, ran):
    await redis.enqueue_job("generate", "cat", _job_id="j1")
    await run_picked(worker, await pick_one(redis))
    assert ran == [("cat", 1)]
    assert not await redis.exists(*bookkeeping_keys("j1")) and not await redis.zcard(QUEUE)


async def test_a_job_whose_worker_died_runs_again_as_its_next_try(redis, worker, ran):
    await redis.enqueue_job("generate", "cat", _job_id="j1")
    await pick_one(redis)  # picked by a worker that died: its lease lapses
    await redis.delete(lease_key("j1"))
    await run_picked(worker, await pick_one(redis))
    assert ran == [("cat", 2)]


async def test_a_job_past_its_tries_never_runs(redis, worker, ran):
    await redis.enqueue_job("generate", "cat", _job_id="j1")
    for _ in range(3):
        await pick_one(redis)
        await redis.delete(lease_key("j1"))
    await run_picked(worker, await pick_one(redis))
    assert ran == [] and worker.jobs_failed == 1
    assert not await redis.exists(*bookkeeping_keys("j1")) and not await redis.zcard(QUEUE)


async def test_a_job_whose_record_expired_leaves_the_queue(redis, worker, ran):
    await redis.zadd(QUEUE, {"gone": 1})
    picked = await pick_one(redis)
    assert picked.record is None
    await run_picked(worker, picked)
    assert ran == [] and not await redis.zcard(QUEUE)


async def test_a_job_over_its_timeout_ends(redis, worker, ran):
    await redis.enqueue_job("generate", "hang", _job_id="j1")
    async with asyncio.timeout(5):
        await run_picked(worker, await pick_one(redis))
    assert worker.jobs_failed == 1 and not await redis.zcard(QUEUE)


async def test_a_job_cut_short_by_a_stopping_worker_stays_queued(redis, worker, ran):
    await redis.enqueue_job("generate", "hang", _job_id="j1")
    worker.functions["generate"].timeout_s = 60
    running = asyncio.create_task(run_picked(worker, await pick_one(redis)))
    while not ran:
        await asyncio.sleep(0.01)
    running.cancel()
    await running
    assert await redis.zscore(QUEUE, "j1") is not None  # another worker picks it up at once
    assert not await redis.exists(lease_key("j1"))
    assert worker.jobs_retried == 1


def test_the_worker_settings_use_nothing_the_runner_leaves_out():
    """Aborts, job hooks, kept results and cron jobs are arq's run_job's, not the runner's."""
    settings = worker_kwargs(WorkerSettings)
    assert not {"allow_abort_jobs", "on_job_start", "on_job_end", "cron_jobs"} & set(settings)
    assert settings["keep_result"] == 0
