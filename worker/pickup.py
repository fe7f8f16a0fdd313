"""Finding and picking up due jobs in one atomic script: arq's own loop reads the queue, then
checks each id with three round trips, including the jobs already running (they stay queued
until done), which was most of a busy worker's Redis traffic."""

from typing import NamedTuple

from arq.connections import ArqRedis

from common.store import keys
from common.store.arq_compat import LEASE_PREFIX, now_ms
from common.store.redis import run_script

# KEYS: the generation queue, the webhook delivery queue. ARGV: now (ms), lease (ms), arq's
# in-progress key prefix, how many entries of each queue to look at, free generation slots,
# free delivery slots. A job is picked by setting its in-progress key (its lease); jobs whose
# key exists run elsewhere, or here. Deliveries have their own slots: never a generation's.
_CLAIM = """
local picked, saturated = {}, 0
local function claim(queue, free)
  local due = redis.call('ZRANGEBYSCORE', queue, '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[4])
  for i = 1, #due, 2 do
    if redis.call('EXISTS', ARGV[3] .. due[i]) == 0 then
      if free <= 0 then
        saturated = 1
        return
      end
      free = free - 1
      redis.call('SET', ARGV[3] .. due[i], '1', 'PX', ARGV[2])
      table.insert(picked, due[i])
      table.insert(picked, due[i + 1])
    end
  end
end
claim(KEYS[1], tonumber(ARGV[5]))
claim(KEYS[2], tonumber(ARGV[6]))
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
        [queue, keys.WEBHOOK_QUEUE],
        now_ms(),
        lease_seconds * 1000,
        LEASE_PREFIX,
        look_at,
        free,
        free_deliveries,
    )
    jobs = [
        (job_id.decode(), int(float(score)))
        for job_id, score in zip(flat[::2], flat[1::2], strict=False)
    ]
    return PickedUp(jobs, bool(saturated))
