"""Admitting a job: the per-key rate limit, the queue depth and Redis memory are checked and
the job enqueued (in arq's format) in one atomic script, so concurrent api processes can never
together pass a limit (SPEC §2.4, §5). One round trip per request. A job with a record (a
background job, or one with a webhook) gets it in the same script: a refused one has none."""

import secrets
import time

from arq.connections import ArqRedis
from redis.exceptions import ResponseError

from common.config.types import Settings
from common.errors import RateLimited, ServiceUnavailable
from common.schemas import GenerateJob
from common.store import keys
from common.store.arq_compat import job_key, job_record, now_ms
from common.store.images import STORED_HOLD, in_flight_member
from common.store.jobs import CREATE_RECORD, JobMeta, record_args, record_keys
from common.store.redis import LUA_MAX_VALUE, queue_script, run_script

QUEUE_RETRY_AFTER = 10
NO_WORKERS_RETRY_AFTER = 5
MEMORY_CHECK_EVERY = 1.0  # seconds; INFO is too costly to ask on every request

# KEYS: rate log, queue, workers, worker load, job record, images in flight, images stored
#       recently, the bytes in flight; for a job with a record (common/store/jobs.py), that
#       record's keys.
# ARGV: now, rate limit (0: off), rate entry, max queue depth, heartbeat fresh since,
#       job id, queue score ms, wake channel,
#       Redis memory used (sampled), memory high-water mark in bytes (0: no cap),
#       this job's in-flight entry, its reservation's end, the second the sample was taken
#       in (stores from then on are counted), the second before which no api needs them,
#       whether to recount the bytes in flight, the job's record (empty when SET before the
#       script) and its ttl ms; then the background record's arguments.
# Memory counts the images still being made (each job's reservation) and those stored since
# the sample on top of it, so a burst of admissions cannot together pass the mark. The bytes
# in flight are a running total (workers take theirs off, common/store/images.py), recounted
# from the reservations with each new memory sample, which drops the lapsed ones (their
# worker died) and heals what a full Redis kept a worker from taking off: adding them all up
# on every admission cost 170 µs of Redis with 256 in flight, 640 µs with 1,000.
# A job record over LUA_MAX_VALUE (an edit's images) is SET just before the script in the
# same MULTI instead of passed to it, and a refusal deletes it, so a refused job leaves none;
# smaller ones ride in the script, one command (a MULTI around every admission cost each
# request about 0.1 ms of CPU across api and Redis). The rate log is a sliding minute; a
# refused request does not use up the allowance. No live worker means no job (nobody would
# take it). Jobs waiting to start are the queue minus what live workers report running.
_ADMIT = (
    CREATE_RECORD
    + """
local function refuse(...)
  redis.call('DEL', KEYS[5])  -- a large record, set just before in the same MULTI
  return {...}
end
local now, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
if limit > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, now - 60)
  if redis.call('ZCARD', KEYS[1]) >= limit then
    return refuse('rate', redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2])
  end
end
local running, workers = 0, redis.call('ZRANGEBYSCORE', KEYS[3], ARGV[5], '+inf')
if #workers == 0 then
  return refuse('workers')
end
for _, worker in ipairs(workers) do
  running = running + tonumber(redis.call('HGET', KEYS[4], worker) or '0')
end
if redis.call('ZCARD', KEYS[2]) - running >= tonumber(ARGV[4]) then
  return refuse('queue')
end
local high_water = tonumber(ARGV[10])
if high_water > 0 then
  local reserved, bytes = 0, tonumber(string.match(ARGV[11], ':(%d+)$'))
  if ARGV[15] == '1' then
    redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', now)
    for _, entry in ipairs(redis.call('ZRANGE', KEYS[6], 0, -1)) do
      reserved = reserved + tonumber(string.match(entry, ':(%d+)$'))
    end
    redis.call('SET', KEYS[8], reserved)
  else
    reserved = tonumber(redis.call('GET', KEYS[8]) or '0')
  end
  local used = tonumber(ARGV[9]) + bytes + reserved
  local stored = redis.call('HGETALL', KEYS[7])
  for i = 1, #stored, 2 do
    local second = tonumber(stored[i])
    if second >= tonumber(ARGV[13]) then
      used = used + tonumber(stored[i + 1])
    elseif second < tonumber(ARGV[14]) then
      redis.call('HDEL', KEYS[7], stored[i])
    end
  end
  if used > high_water then
    return refuse('cache')
  end
  redis.call('ZADD', KEYS[6], ARGV[12], ARGV[11])
  redis.call('INCRBY', KEYS[8], bytes)
end
if limit > 0 then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('EXPIRE', KEYS[1], 61)
end
if #KEYS > 8 then
  create_record(KEYS[9], KEYS[10], ARGV[6], now, ARGV[18], ARGV[19], ARGV[20], ARGV[21])
end
if ARGV[16] ~= '' then
  redis.call('SET', KEYS[5], ARGV[16], 'PX', ARGV[17])
end
redis.call('ZADD', KEYS[2], ARGV[7], ARGV[6])
redis.call('PUBLISH', ARGV[8], '')
return {'ok'}
"""
)


class Admission:
    def __init__(self, redis: ArqRedis, settings: Settings) -> None:
        self._redis = redis
        self._settings = settings
        self._memory_checked = 0.0
        self._memory_sample = (0, 0)

    async def enqueue(self, job: GenerateJob, caller: str, ttl_seconds: float) -> None:
        """Enqueue `job` for arq's `generate` (waking the workers), or raise 429/503 when a
        limit says no. A job not started within `ttl_seconds` expires instead of running."""
        now = time.time()
        sampled = self._memory_checked
        used, high_water, sampled_at = await self._memory(now)
        if high_water and used > high_water:  # full whatever is in flight: spare the script
            raise cache_full()
        score = now_ms()
        record = job_record("generate", (job,), score)
        meta = _meta(job, caller, now)
        inline = len(record) <= LUA_MAX_VALUE
        record_key, ttl_ms = job_key(job.id), int(ttl_seconds * 1000)
        script_keys = [
            keys.rate_log(caller),
            self._redis.default_queue_name,
            keys.WORKERS,
            keys.WORKER_LOAD,
            record_key,
            keys.IMAGES_IN_FLIGHT,
            keys.IMAGES_STORED_RECENTLY,
            keys.IMAGES_IN_FLIGHT_BYTES,
            *(record_keys(meta) if meta else ()),
        ]
        args = (
            now,
            self._settings.rate_limit_per_minute,
            f"{now}:{secrets.token_hex(4)}",
            self._settings.max_queue_depth,
            now - keys.HEARTBEAT_FRESH,
            job.id,
            score,
            keys.WAKE_CHANNEL,
            used,
            high_water,
            in_flight_member(job.id, job.n, job.width, job.height, self._settings.s3 is None),
            now + ttl_seconds + self._settings.request_timeout + self._settings.job_lease,
            int(sampled_at),
            int(now) - STORED_HOLD,
            int(sampled_at != sampled),  # a new sample: recount the bytes in flight
            record if inline else b"",
            ttl_ms,
            *(record_args(meta, self._settings.image_expiration, now) if meta else ()),
        )
        if inline:
            verdict = await run_script(self._redis, _ADMIT, script_keys, *args)
        else:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.set(record_key, record, px=ttl_ms)
                queue_script(pipe, _ADMIT, script_keys, *args)
                _, verdict = await pipe.execute()
        if verdict[0] != b"ok":
            raise self._refusal(verdict, now)

    def _refusal(self, verdict: list, now: float) -> RateLimited | ServiceUnavailable:
        """The error a limit's verdict means: 429 for the rate, 503 for the rest."""
        if verdict[0] == b"rate":
            return RateLimited(
                f"more than {self._settings.rate_limit_per_minute} requests a minute with this key",
                retry_after=max(1, round(float(verdict[1]) + 60 - now)),
            )
        if verdict[0] == b"workers":
            return ServiceUnavailable(
                "no worker is running to make the image; start `imagegate worker` (or check why"
                " the workers cannot reach Redis)",
                code="no_workers",
                retry_after=NO_WORKERS_RETRY_AFTER,
            )
        if verdict[0] == b"cache":
            return cache_full()
        return ServiceUnavailable(
            "too many images are waiting to be made; try again shortly",
            code="queue_full",
            retry_after=QUEUE_RETRY_AFTER,
        )

    async def _memory(self, now: float) -> tuple[int, int, float]:
        """Redis's used memory and the high-water mark in bytes (0: no cap), sampled at most
        once a second, and when that sample was taken."""
        if now - self._memory_checked >= MEMORY_CHECK_EVERY:
            try:
                memory = await self._redis.info("memory")
            except ResponseError:  # the embedded in-memory Redis has no INFO, and no cap
                memory = {"maxmemory": 0}
            cap = int(memory.get("maxmemory", 0))
            self._memory_sample = (
                int(memory.get("used_memory", 0)),
                int(cap * self._settings.cache_high_water),
            )
            self._memory_checked = now
        return (*self._memory_sample, self._memory_checked)


def _meta(job: GenerateJob, caller: str, now: float) -> JobMeta | None:
    """The record of a job that has one (api/jobs/background.py's `track` marks them)."""
    if job.answer is None:
        return None
    return JobMeta(
        id=job.id,
        owner=caller,
        model=job.model,
        created_at=int(now),
        base_url=job.answer.base_url,
        webhook_url=job.webhook_url,
    )


def cache_full() -> ServiceUnavailable:
    return ServiceUnavailable(
        "the image cache is full; try again when older images expire",
        code="cache_full",
        retry_after=60,
    )
