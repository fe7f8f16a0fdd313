"""Picking up due jobs: webhook deliveries, in their own queue, have their own slots; each job
comes with its record and its try."""

from common.store import keys
from common.store.arq_compat import job_record, lease_key, read_job_record
from worker.pickup import pick_up_due

QUEUE = "arq:queue"


async def test_deliveries_never_take_a_generation_slot(redis):
    hooks = [keys.webhook_delivery(f"j{n}", 1) for n in range(3)]
    await redis.zadd(QUEUE, {"g1": 1, "g2": 3})
    await redis.zadd(keys.WEBHOOK_QUEUE, {hooks[0]: 2, hooks[1]: 4, hooks[2]: 5})
    picked = await pick_up_due(redis, QUEUE, 1, 30, 100, free_deliveries=2)
    assert [job.id for job in picked.jobs] == ["g1", hooks[0], hooks[1]]
    assert picked.saturated  # g2 and a delivery wait for a slot
    # With no delivery slot free, a generation slot still goes to a generation.
    again = await pick_up_due(redis, QUEUE, 1, 30, 100, free_deliveries=0)
    assert [job.id for job in again.jobs] == ["g2"]
    assert again.saturated  # the last delivery still waits


async def test_a_deferred_delivery_waits_until_due(redis):
    await redis.zadd(keys.WEBHOOK_QUEUE, {keys.webhook_delivery("later", 2): 2**50})
    picked = await pick_up_due(redis, QUEUE, 1, 30, 100, free_deliveries=1)
    assert picked.jobs == [] and not picked.saturated


async def test_a_picked_job_comes_with_its_record_and_try(redis):
    await redis.set("arq:job:g1", job_record("generate", (b"payload",), 1234))
    await redis.zadd(QUEUE, {"g1": 1})
    [job] = (await pick_up_due(redis, QUEUE, 1, 30, 100)).jobs
    assert (job.id, job.score, job.job_try) == ("g1", 1, 1)
    assert read_job_record(job.record) == ("generate", (b"payload",), {}, 1234)
    await redis.delete(lease_key("g1"))  # its worker died; the lease lapsed
    [again] = (await pick_up_due(redis, QUEUE, 1, 30, 100)).jobs
    assert again.job_try == 2


async def test_a_large_record_comes_whole(redis):
    """An edit's record (its images inside) is read after the script, not through Lua."""
    images = bytes(range(256)) * 20_000  # 5 MB
    await redis.set("arq:job:e1", job_record("generate", (images,), 1))
    await redis.zadd(QUEUE, {"e1": 1})
    [job] = (await pick_up_due(redis, QUEUE, 1, 30, 100)).jobs
    assert read_job_record(job.record)[1] == (images,) and job.job_try == 1
