"""Finding and picking up due jobs in one atomic script: arq's own loop reads the queue, then
checks each id with three round trips, including the jobs already running (they stay queued
until done), which was most of a busy worker's Redis traffic."""

from typing import NamedTuple

from arq.connections import ArqRedis

from common.store import keys
from common.store.arq_compat import LEASE_PREFIX, now_ms
from common.store.redis import run_script

# KEYS: the queue. ARGV: now (ms), lease (ms), arq's in-progress key prefix, free generation
# slots, how many queue entries to look at, free delivery slots, the delivery id prefix. A job
# is picked by setting its in-progress key (its lease); jobs whose key exists run elsewhere,
# or here. Webhook deliveries have their own slots: they never take a generation's.
_CLAIM = """
local picked = {}
local free = {tonumber(ARGV[4]), tonumber(ARGV[6])}
local saturated = 0
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[5])
for i = 1, #due, 2 do
  if redis.call('EXISTS', ARGV[3] .. due[i]) == 0 then
    local class = 1
    if string.sub(due[i], 1, #ARGV[7]) == ARGV[7] then class = 2 end
    if free[class] <= 0 then
      saturated = 1
    else
      free[class] = free[class] - 1
      redis.call('SET', ARGV[3] .. due[i], '1', 'PX', ARGV[2])
      table.insert(picked, due[i])
      table.insert(picked, due[i + 1])
    end
  end
end
return {picked, saturated}
"""


class PickedUp(NamedTuple):
    jobs: list[tuple[str, int]]  # (job id, queue score)
    saturated: bool  # due jobs were left for want of a free slot


async def pick_up_due(
    redis: ArqRedis,
    queue: str,
    free: int,
    lease_seconds: int,
    look_at: int,
    free_deliveries: int = 0,
) -> PickedUp:
    flat, saturated = await run_script(
        redis,
        _CLAIM,
        [queue],
        now_ms(),
        lease_seconds * 1000,
        LEASE_PREFIX,
        free,
        look_at,
        free_deliveries,
        keys.DELIVERY_PREFIX,
    )
    jobs = [
        (job_id.decode(), int(float(score)))
        for job_id, score in zip(flat[::2], flat[1::2], strict=False)
    ]
    return PickedUp(jobs, bool(saturated))
