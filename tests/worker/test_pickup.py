"""Picking up due jobs: webhook deliveries have their own slots beside the generations."""

from common.store import keys
from worker.pickup import pick_up_due

QUEUE = "arq:queue"


async def test_deliveries_never_take_a_generation_slot(redis):
    hooks = [keys.webhook_delivery(f"j{n}", 1) for n in range(3)]
    await redis.zadd(QUEUE, {"g1": 1, hooks[0]: 2, "g2": 3, hooks[1]: 4, hooks[2]: 5})
    picked = await pick_up_due(redis, QUEUE, 1, 30, 100, free_deliveries=2)
    assert [job_id for job_id, _ in picked.jobs] == ["g1", hooks[0], hooks[1]]
    assert picked.saturated  # g2 and a delivery wait for a slot
    # With no delivery slot free, a generation slot still goes to a generation.
    again = await pick_up_due(redis, QUEUE, 1, 30, 100, free_deliveries=0)
    assert [job_id for job_id, _ in again.jobs] == ["g2"]
