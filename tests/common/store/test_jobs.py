"""Job records against a real redis-server: owner scoping, one end per job, cancel, paging."""

import time

import msgspec

from common.errors import ErrorInfo
from common.schemas import Completed, Failed, JobResult
from common.store import keys
from common.store.arq_compat import job_key, lease_key
from common.store.jobs import CREATE_RECORD, JobMeta, JobStore, record_args, record_keys
from common.store.redis import run_script

QUEUE = "arq:queue"
RESULT = JobResult(images=(), model="m", prompt="p", original="p")
CANCELLED = Failed(ErrorInfo(status=409, type="t", code="job_canceled", message="cancelled"))


async def create(redis, record: JobMeta) -> None:
    """A record as admission writes it (api/jobs/admit.py), without the job."""
    now = time.time()
    script = CREATE_RECORD + "create_record(KEYS[1], KEYS[2], unpack(ARGV))"
    await run_script(
        redis, script, record_keys(record), record.id, now, *record_args(record, 60, now)
    )


def meta(job_id: str, owner: str = "owner-a", webhook_url: str | None = None) -> JobMeta:
    return JobMeta(
        id=job_id,
        owner=owner,
        model="m",
        created_at=int(time.time()),
        base_url="http://gw",
        webhook_url=webhook_url,
    )


async def test_a_record_is_seen_only_by_its_owner(redis):
    store = JobStore(redis, QUEUE, 60)
    await create(redis, meta("j1"))
    assert (await store.load("j1", "owner-a")).status == "queued"
    assert await store.load("j1", "owner-b") is None
    assert await store.load("missing", "owner-a") is None
    view = (await store.load("j1")).view("http://gw", queue_position=3)
    assert view.queue_position == 3 and view.urls["cancel"] == "http://gw/v1/jobs/j1/cancel"


async def test_a_job_ends_once_whoever_comes_first(redis):
    store = JobStore(redis, QUEUE, 60)
    await create(redis, meta("j2"))
    assert await store.start("j2") == "queued"
    assert await store.start("j2") == "in_progress"  # a rerun carries on
    assert await store.end(meta("j2"), "canceled", CANCELLED, cancel=True) == b"in_progress"
    # The worker's finish arrives after the cancel: nothing changes, no second event.
    assert await store.end(meta("j2"), "succeeded", Completed(RESULT), result=b"{}") == b"canceled"
    record = await store.load("j2")
    assert record.status == "canceled" and record.result is None and record.finished_at
    assert await redis.xlen(keys.job_events("j2")) == 1
    assert 0 < await redis.ttl(keys.background_job("j2")) <= 60


async def test_cancelling_a_queued_job_takes_it_out_of_the_queue(redis):
    store = JobStore(redis, QUEUE, 60)
    for job_id in ("queued", "taken"):
        await create(redis, meta(job_id))
        await redis.zadd(QUEUE, {job_id: 1})
        await redis.set(job_key(job_id), b"record")
    await redis.set(lease_key("taken"), b"1")  # a worker picked it up a moment ago
    await store.end(meta("queued"), "canceled", CANCELLED, cancel=True)
    await store.end(meta("taken"), "canceled", CANCELLED, cancel=True)
    assert await redis.zrange(QUEUE, 0, -1) == [b"taken"]  # that worker drops it itself
    assert not await redis.exists(job_key("queued"))
    assert await store.start("queued") == "canceled"


async def test_the_end_enqueues_the_webhook_delivery(redis):
    store = JobStore(redis, QUEUE, 60)
    await create(redis, meta("j3", webhook_url="https://hooks.example/x"))
    await store.end(meta("j3", webhook_url="https://hooks.example/x"), "failed", CANCELLED)
    delivery = keys.webhook_delivery("j3", 1)
    assert await redis.zscore(keys.WEBHOOK_QUEUE, delivery) is not None
    assert await redis.zcard(QUEUE) == 0  # the images' queue: a delivery is no image waiting
    assert await redis.exists(job_key(delivery))


async def test_the_queue_position_counts_only_jobs_waiting_ahead(redis):
    store = JobStore(redis, QUEUE, 60)
    await redis.zadd(QUEUE, {"running": 1, "waiting": 2, "mine": 3, "behind": 4})
    await redis.set(lease_key("running"), b"1")
    assert await store.queue_position("mine") == 1
    assert await store.queue_position("not-queued") == 0


async def test_pages_are_newest_first_and_skip_expired_records(redis):
    store = JobStore(redis, QUEUE, 60)
    for number in range(5):
        await create(redis, meta(f"p{number}"))
        await redis.zadd(keys.owner_jobs("owner-a"), {f"p{number}": time.time() + number})
    await redis.delete(keys.background_job("p3"))  # expired
    first, more = await store.page("owner-a", 2, None)
    assert [r.meta.id for r in first] == ["p4", "p2"] and more
    rest, more = await store.page("owner-a", 10, "p4")
    assert [r.meta.id for r in rest] == ["p2", "p1", "p0"] and not more
    assert await redis.zscore(keys.owner_jobs("owner-a"), "p3") is None
    assert (await store.page("owner-b", 10, None)) == ([], False)
    assert (await store.page("owner-a", 10, "unknown")) == ([], False)
    assert msgspec.json.decode(msgspec.json.encode(first[0].view("http://gw")))["result"] is None
