"""The worker loop: woken by the api's signal rather than by polling, and announcing itself."""

import asyncio
import contextlib

import pytest
from arq.worker import func

from common.store import keys
from common.store.arq_compat import bookkeeping_keys
from common.store.redis import job_deserializer, job_serializer
from worker import loop as runner
from worker.loop import ImageWorker

pytestmark = pytest.mark.asyncio


def worker_of(redis, job, **options) -> ImageWorker:
    """A worker of `job` alone, on the test's Redis, as imagegate builds one."""
    return ImageWorker(
        functions=[func(job, name=job.__name__)],
        redis_pool=redis,
        handle_signals=False,
        keep_result=0,
        job_serializer=job_serializer,
        job_deserializer=job_deserializer,
        **options,
    )


@pytest.fixture
async def worker(redis, monkeypatch):
    # A safety-net poll of ten minutes: anything picked up within the test was woken up.
    monkeypatch.setattr(runner, "IDLE_POLL", 600.0)
    started: asyncio.Queue[str] = asyncio.Queue()

    async def generate(ctx, payload):
        await started.put(payload)

    worker = worker_of(redis, generate)
    task = asyncio.create_task(worker.async_run())
    await asyncio.sleep(0.3)  # let it reach its idle wait
    yield worker, started
    task.cancel()
    await worker.close()


async def test_an_enqueued_job_starts_when_the_api_signals(redis, worker):
    _, started = worker
    await redis.enqueue_job("generate", "first")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(started.get(), 0.5)  # no signal, no polling: it waits
    await redis.publish(keys.WAKE_CHANNEL, b"")
    assert await asyncio.wait_for(started.get(), 5) == "first"


async def test_the_worker_keeps_a_heartbeat_and_removes_it_on_close(redis, worker):
    gateway_worker, _ = worker
    assert await redis.zscore(keys.WORKERS, gateway_worker.worker_id) is not None
    await gateway_worker.close()
    assert await redis.zscore(keys.WORKERS, gateway_worker.worker_id) is None


async def test_a_job_left_waiting_for_a_slot_starts_when_one_frees(redis, monkeypatch):
    monkeypatch.setattr(runner, "IDLE_POLL", 600.0)
    release, started = asyncio.Event(), []

    async def generate(ctx, payload):
        started.append(payload)
        await release.wait()

    worker = worker_of(redis, generate, max_jobs=1)
    task = asyncio.create_task(worker.async_run())
    await asyncio.sleep(0.3)
    await redis.enqueue_job("generate", "first")
    await redis.enqueue_job("generate", "second")
    await redis.publish(keys.WAKE_CHANNEL, b"")
    while not started:
        await asyncio.sleep(0.01)
    assert started == ["first"] or started == ["second"]
    release.set()  # no new signal: the freed slot alone must bring the other job in
    async with asyncio.timeout(5):
        while len(started) < 2:
            await asyncio.sleep(0.01)
    assert sorted(started) == ["first", "second"]
    task.cancel()
    await worker.close()


@pytest.mark.parametrize("queue", [keys.WEBHOOK_QUEUE, "arq:queue"])  # arq's: an older version's
async def test_a_delivery_runs_once_and_leaves_its_queue(redis, monkeypatch, queue):
    monkeypatch.setattr(runner, "IDLE_POLL", 600.0)
    delivered: asyncio.Queue[str] = asyncio.Queue()

    async def deliver_webhook(ctx, job_id, attempt):
        await delivered.put(job_id)

    worker = worker_of(redis, deliver_webhook)
    task = asyncio.create_task(worker.async_run())
    delivery = keys.webhook_delivery("j1", 1)
    await redis.enqueue_job("deliver_webhook", "j1", 1, _job_id=delivery, _queue_name=queue)
    await redis.publish(keys.WAKE_CHANNEL, b"")
    assert await asyncio.wait_for(delivered.get(), 5) == "j1"
    async with asyncio.timeout(5):
        while await redis.zcard(queue):
            await asyncio.sleep(0.01)
    assert not await redis.exists(*bookkeeping_keys(delivery))
    task.cancel()
    await worker.close()


async def test_a_job_enqueued_before_the_worker_listens_still_starts(redis, monkeypatch):
    """A wake-up published before the worker's subscription took hold reaches nobody: the worker
    looks at the queue once it listens, instead of at its safety-net poll."""
    monkeypatch.setattr(runner, "IDLE_POLL", 600.0)
    subscribe, enqueued = runner.subscription, asyncio.Event()

    @contextlib.asynccontextmanager
    async def late_subscription(*args):
        await enqueued.wait()
        async with subscribe(*args) as pubsub:
            yield pubsub

    monkeypatch.setattr(runner, "subscription", late_subscription)
    started: asyncio.Queue[str] = asyncio.Queue()

    async def generate(ctx, payload):
        await started.put(payload)

    worker = worker_of(redis, generate)
    task = asyncio.create_task(worker.async_run())
    while await redis.zscore(keys.WORKERS, worker.worker_id) is None:
        await asyncio.sleep(0.01)  # its first look at the queue is over
    await redis.enqueue_job("generate", "early")
    await redis.publish(keys.WAKE_CHANNEL, b"")  # nobody listens yet
    enqueued.set()
    assert await asyncio.wait_for(started.get(), 5) == "early"
    task.cancel()
    await worker.close()
