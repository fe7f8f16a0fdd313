"""Background job records: the job object clients poll, list and cancel, owned by one gateway key.

A record is a Redis hash: `meta` (who made it, for which route, where to call back), then the
fields that change as the job runs (`status`, `started_at`, `finished_at`, `progress`,
`result`, `error`). Every change of status goes through one script, so a job ends exactly
once: whichever of the worker (done) and a cancel comes first wins; the other changes nothing.
The script that ends a job also appends its final event and enqueues its webhook delivery in
the same step, so neither can be lost between two writes.
"""

import time
from typing import Any

import msgspec
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from common.errors import ErrorInfo
from common.schemas import JobEvent, encode
from common.store import keys
from common.store.arq_compat import LEASE_PREFIX, job_key, job_record, lease_key, now_ms
from common.store.events import MAX_EVENTS
from common.store.redis import Scalar, reply, run_script

# How long a job not yet ended is kept, and how long its queue entry waits for a worker:
# background jobs are never dropped for having waited (synchronous ones expire instead).
LIVE_SECONDS = 86_400
DELIVERY_FUNCTION = "deliver_webhook"
POSITION_EXACT_UP_TO = 1000  # queue entries looked at; past them, each counts as waiting
TERMINAL = frozenset({"succeeded", "failed", "canceled"})


class JobMeta(msgspec.Struct, frozen=True, kw_only=True):
    """What a job's record keeps from its request; fields added later get defaults."""

    id: str
    owner: str  # the hash of the gateway key that made it (common/store/idempotency.digest)
    model: str
    created_at: int
    base_url: str  # of the request: the urls of the webhook's job object
    webhook_url: str | None = None


class JobObject(msgspec.Struct, kw_only=True):
    """The job as clients see it: every key present, null where it does not apply."""

    id: str
    status: str
    model: str
    created_at: int
    started_at: int | None
    finished_at: int | None
    queue_position: int | None
    progress: str | None
    result: msgspec.Raw | None
    error: msgspec.Raw | None
    urls: dict[str, str]
    object: str = "image.job"


class Record(msgspec.Struct, frozen=True, kw_only=True):
    meta: JobMeta
    status: str
    started_at: int | None = None
    finished_at: int | None = None
    progress: str | None = None
    result: bytes | None = None  # JSON: the route's 200 body
    error: bytes | None = None  # JSON: {message, type, param, code}

    def view(self, base_url: str, queue_position: int | None = None) -> JobObject:
        url = f"{base_url}/v1/jobs/{self.meta.id}"
        return JobObject(
            id=self.meta.id,
            status=self.status,
            model=self.meta.model,
            created_at=self.meta.created_at,
            started_at=self.started_at,
            finished_at=self.finished_at,
            queue_position=queue_position if self.status == "queued" else None,
            progress=self.progress,
            result=msgspec.Raw(self.result) if self.result else None,
            error=msgspec.Raw(self.error) if self.error else None,
            urls={"self": url, "events": f"{url}/events", "cancel": f"{url}/cancel"},
        )


_encode_json = msgspec.json.Encoder().encode
_decode_meta = msgspec.msgpack.Decoder(JobMeta).decode


def error_json(info: ErrorInfo) -> bytes:
    return _encode_json(
        {"message": info.message, "type": info.type, "param": info.param, "code": info.code}
    )


# KEYS: record, event stream, queue, webhook delivery's arq key, job's arq key, in-progress key,
#       webhook queue.
# ARGV: status, finished_at, result, error, event, record ttl ms, event ttl ms, max events,
#       job id, delivery record ('' for none), delivery id, delivery score, events channel,
#       wake channel, cancel channel ('' unless cancelling).
# Returns the status the job had. A queued job being cancelled leaves the queue at once; a
# running one is told to stop on the cancel channel.
_END = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return '' end
if status == 'succeeded' or status == 'failed' or status == 'canceled' then return status end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'finished_at', ARGV[2])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'result', ARGV[3]) end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'error', ARGV[4]) end
redis.call('PEXPIRE', KEYS[1], ARGV[6])
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[8], '*', 'e', ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[7])
redis.call('PUBLISH', ARGV[13], ARGV[9] .. ' ' .. id .. ' ' .. ARGV[5])
if ARGV[10] ~= '' then
  redis.call('SET', KEYS[4], ARGV[10], 'PX', ARGV[6])
  redis.call('ZADD', KEYS[7], ARGV[12], ARGV[11])
  redis.call('PUBLISH', ARGV[14], '')
end
if ARGV[15] ~= '' then
  if redis.call('EXISTS', KEYS[6]) == 0 then
    redis.call('ZREM', KEYS[3], ARGV[9])
    redis.call('DEL', KEYS[5])
  end
  redis.call('PUBLISH', ARGV[15], ARGV[9])
end
return status
"""

# KEYS: record. ARGV: now. A queued job starts; returns the status it had.
_START = """
local status = redis.call('HGET', KEYS[1], 'status')
if status == 'queued' then
  redis.call('HSET', KEYS[1], 'status', 'in_progress', 'started_at', ARGV[1])
end
return status or ''
"""

# KEYS: queue. ARGV: job id, arq's in-progress key prefix, how many to look at. The jobs ahead
# of this one still waiting to start: those before it in the queue without a lease.
_POSITION = """
local rank = redis.call('ZRANK', KEYS[1], ARGV[1])
if not rank then return 0 end
local waiting = 0
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, math.min(rank, tonumber(ARGV[3])) - 1)) do
  if redis.call('EXISTS', ARGV[2] .. id) == 0 then waiting = waiting + 1 end
end
return waiting + math.max(0, rank - tonumber(ARGV[3]))
"""


# A Lua function for the script that enqueues a job (api/jobs/admit.py): the new job's record,
# `queued`, indexed under its owner (the index drops jobs older than any record). In the same
# step as the enqueue, so a job refused by a limit never has a record.
CREATE_RECORD = """
local function create_record(record, owned, id, now, meta, live, keep_since, owned_ttl)
  redis.call('HSET', record, 'meta', meta, 'status', 'queued')
  redis.call('EXPIRE', record, live)
  redis.call('ZADD', owned, now, id)
  redis.call('ZREMRANGEBYSCORE', owned, 0, keep_since)
  redis.call('EXPIRE', owned, owned_ttl)
end
"""


def record_keys(meta: JobMeta) -> list[str]:
    """`create_record`'s keys: the record and its owner's index."""
    return [keys.background_job(meta.id), keys.owner_jobs(meta.owner)]


def record_args(meta: JobMeta, expiration: int, now: float) -> list[Scalar]:
    """`create_record`'s arguments after the job id and the time."""
    live = LIVE_SECONDS + expiration
    return [encode(meta), LIVE_SECONDS, now - live, live]


class JobStore:
    """Job records in Redis; `queue` is arq's queue name, `expiration` IMAGE_EXPIRATION."""

    def __init__(self, redis: Redis, queue: str, expiration: int) -> None:
        self._redis = redis
        self._queue = queue
        self._expiration = expiration

    async def load(self, job_id: str, owner: str | None = None) -> Record | None:
        """The record, or None when it does not exist or `owner` did not make it."""
        fields = await reply(self._redis.hgetall(keys.background_job(job_id)))
        record = _record(fields)
        if record is None or (owner is not None and record.meta.owner != owner):
            return None
        return record

    async def queue_position(self, job_id: str) -> int:
        return int(
            await run_script(
                self._redis, _POSITION, [self._queue], job_id, LEASE_PREFIX, POSITION_EXACT_UP_TO
            )
        )

    async def page(self, owner: str, limit: int, after: str | None) -> tuple[list[Record], bool]:
        """The owner's jobs, newest first, after the job `after`; and whether more follow."""
        owned = keys.owner_jobs(owner)
        start = 0
        if after is not None:
            rank = await self._redis.zrevrank(owned, after)
            if rank is None:
                return [], False
            start = rank + 1
        ids = await self._redis.zrevrange(owned, start, start + limit)
        async with self._redis.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hgetall(keys.background_job(job_id.decode()))
            found = await pipe.execute()
        records = [record for fields in found if (record := _record(fields)) is not None]
        if gone := [job_id for job_id, fields in zip(ids, found, strict=True) if not fields]:
            await self._redis.zrem(owned, *gone)
        return records[:limit], len(ids) > limit

    async def start(self, job_id: str) -> str:
        """Mark a queued job running; the status it had ('' when it has no record)."""
        status = await run_script(
            self._redis, _START, [keys.background_job(job_id)], int(time.time())
        )
        return status.decode() if isinstance(status, bytes) else str(status or "")

    async def set_progress(self, job_id: str, text: str) -> None:
        await reply(self._redis.hset(keys.background_job(job_id), "progress", text))

    def end(
        self,
        meta: JobMeta,
        status: str,
        event: JobEvent,
        *,
        result: bytes = b"",
        error: bytes = b"",
        cancel: bool = False,
        pipe: Pipeline | None = None,
    ):
        """End the job unless it already ended: its status, final event and webhook delivery
        in one step. Awaited (or, given `pipe`, executed) it gives the status the job had."""
        delivery_id, delivery = "", b""
        if meta.webhook_url:
            delivery_id = keys.webhook_delivery(meta.id, 1)
            delivery = job_record(DELIVERY_FUNCTION, (meta.id, 1), now_ms())
        # Untyped: redis-py's stubs want every argument a str; Redis takes numbers and bytes.
        evaluate: Any = (pipe if pipe is not None else self._redis).eval
        return evaluate(
            _END,
            7,
            keys.background_job(meta.id),
            keys.job_events(meta.id),
            self._queue,
            job_key(delivery_id),
            job_key(meta.id),
            lease_key(meta.id),
            keys.WEBHOOK_QUEUE,
            status,
            int(time.time()),
            result,
            error,
            encode(event),
            self._expiration * 1000,
            self._expiration * 1000,
            MAX_EVENTS,
            meta.id,
            delivery,
            delivery_id,
            now_ms(),
            keys.EVENTS_CHANNEL,
            keys.WAKE_CHANNEL,
            keys.CANCEL_CHANNEL if cancel else "",
        )


def _record(fields: dict[bytes, bytes]) -> Record | None:
    if b"meta" not in fields:
        return None

    def number(name: bytes) -> int | None:
        return int(fields[name]) if name in fields else None

    return Record(
        meta=_decode_meta(fields[b"meta"]),
        status=fields.get(b"status", b"queued").decode(),
        started_at=number(b"started_at"),
        finished_at=number(b"finished_at"),
        progress=fields[b"progress"].decode() if b"progress" in fields else None,
        result=fields.get(b"result"),
        error=fields.get(b"error"),
    )
