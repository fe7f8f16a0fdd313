"""Picking up due jobs: webhook deliveries, in their own queue, have their own slots."""

from common.store import keys
from worker.pickup import pick_up_due

QUEUE = "arq:queue"


async def test_deliveries_never_take_a_generation_slot(redis):
    hooks = [keys.webhook_delivery(f"j{n}", 1) for n in range(3)]
    await redis.zadd(QUEUE, {"g1": 1, "g2": 3})
    await redis.zadd(keys.WEBHOOK_QUEUE, {hooks[0]: 2, hooks[1]: 4, hooks[2]: 5})
    picked = await pick_up_due(redis, QUEUE, 1, 30, 100, free_deliveries=2)
    assert [job_id for job_id, _ in picked.jobs] == ["g1", hooks[0], hooks[1]]
    assert picked.saturated  # g2 and a delivery wait for a slot
    # With no delivery slot free, a generation slot still goes to a generation.
    again = await pick_up_due(redis, QUEUE, 1, 30, 100, free_deliveries=0)
    assert [job_id for job_id, _ in again.jobs] == ["g2"]
    assert again.saturated  # the last delivery still waits


async def test_a_deferred_delivery_waits_until_due(redis):
    await redis.zadd(keys.WEBHOOK_QUEUE, {keys.webhook_delivery("later", 2): 2**50})
    picked = await pick_up_due(redis, QUEUE, 1, 30, 100, free_deliveries=1)
    assert picked.jobs == [] and not picked.saturated
