"""Per-job event streams: the worker appends; any api process follows them without polling.

Each job has a capped Redis stream with a TTL, so a follower that attaches late (a retry with
the same Idempotency-Key, a reconnect) replays it from the start. Every append is also
announced on one pub/sub channel; an api process holds a single subscription for all of
its waiting requests, so thousands of waiters share one connection and none polls.
"""

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError

from common.schemas import JobEvent, decode_event, encode
from common.store import keys
from common.store.arq_compat import job_key, lease_key
from common.store.redis import queue_script, run_script, subscription

log = logging.getLogger("imagegate.events")

MAX_EVENTS = 512

# Append, expire and announce in one round trip; the announcement carries the stream id so a
# follower can drop what it already read from the backlog.
_APPEND = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'e', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PUBLISH', KEYS[2], ARGV[4] .. ' ' .. id .. ' ' .. ARGV[1])
return id
"""

StreamId = tuple[int, int]


def parse_stream_id(raw: bytes) -> StreamId:
    ms, _, seq = raw.partition(b"-")
    return int(ms), int(seq)


class EventLog:
    """The worker's side: append an event to a job's stream."""

    def __init__(self, redis: Redis, ttl_seconds: int) -> None:
        self._redis = redis
        self._ttl_ms = ttl_seconds * 1000

    async def append(self, job_id: str, event: JobEvent, pipe: Pipeline | None = None) -> None:
        """Append now, or, given a pipeline, when that pipeline executes.

        Plain EVAL, not a registered script: Redis caches the compiled script either way, and
        redis-py would add a SCRIPT EXISTS round trip to every pipeline holding a registered one.
        """
        streams = [keys.job_events(job_id), keys.EVENTS_CHANNEL]
        args = (
            encode(event),
            self._ttl_ms,
            MAX_EVENTS,
            job_id,
        )
        if pipe is None:
            await run_script(self._redis, _APPEND, streams, *args)
        else:
            queue_script(pipe, _APPEND, streams, *args)

    def announce(self, job_id: str, event: JobEvent, pipe: Pipeline) -> None:
        """Tell the followers of `job_id` about `event` without keeping it: what is left when
        Redis is too full to append (PUBLISH, unlike XADD, is allowed past maxmemory)."""
        queue_script(pipe, _ANNOUNCE, [keys.EVENTS_CHANNEL], job_id, LAST_ID, encode(event))


_ANNOUNCE = "redis.call('PUBLISH', KEYS[1], ARGV[1] .. ' ' .. ARGV[2] .. ' ' .. ARGV[3])"
# The stream id of an announcement kept nowhere: after anything the job's stream can hold.
LAST_ID = f"{2**63 - 1}-0"


class Follower:
    """One waiting request's view of a job: its backlog, then live events, each exactly once."""

    def __init__(self, redis: Redis, job_id: str) -> None:
        self._redis = redis
        self._key = keys.job_events(job_id)
        self._inbox: asyncio.Queue[tuple[StreamId, bytes] | None] = asyncio.Queue()
        self._ready: deque[JobEvent] = deque()
        self._last: StreamId = (0, 0)

    def deliver(self, stream_id: StreamId, payload: bytes) -> None:
        self._inbox.put_nowait((stream_id, payload))

    async def vanished(self, job_id: str) -> bool:
        """Whether nothing of the job is left in Redis (no record, lease, result or event):
        its state went with Redis's data (a restart without persistence, a flush), so no
        event will ever come. False when Redis cannot say."""
        try:
            left = await self._redis.exists(
                self._key, job_key(job_id), lease_key(job_id), keys.job_result(job_id)
            )
        except (RedisError, OSError):
            return False
        return left == 0

    def resync(self) -> None:
        """Read the stream again from the last event seen (announcements may have been missed)."""
        self._inbox.put_nowait(None)

    async def next(self, timeout: float) -> JobEvent | None:
        """The next event, or None after `timeout` seconds without one.

        Only the wait on the inbox is timed: a backlog read is never cut in half, so no event
        is lost to a timeout.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self._ready:
            try:
                async with asyncio.timeout_at(deadline):
                    item = await self._inbox.get()
            except TimeoutError:
                return None
            if item is None:
                await self._read_backlog()
            else:
                self._accept(*item)
        return self._ready.popleft()

    def _accept(self, stream_id: StreamId, payload: bytes) -> None:
        if stream_id > self._last:
            self._last = stream_id
            self._ready.append(decode_event(payload))

    async def _read_backlog(self) -> None:
        try:
            entries = await self._redis.xrange(self._key, min=f"({self._last[0]}-{self._last[1]}")
        except RedisError:
            # Try again shortly; the hub also resyncs every follower once it reconnects.
            asyncio.get_running_loop().call_later(0.5, self.resync)
            return
        for raw_id, fields in entries:
            self._accept(parse_stream_id(raw_id), fields[b"e"])


class EventHub:
    """The api's side: one pub/sub subscription per process, fanned out to local followers."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._followers: dict[str, set[Follower]] = {}
        self._stopping = False
        self.connected = asyncio.Event()

    @property
    def waiting(self) -> int:
        """Followers registered in this process (requests waiting for a job)."""
        return sum(len(followers) for followers in self._followers.values())

    @contextlib.asynccontextmanager
    async def follow(self, job_id: str, replay: bool = True) -> AsyncIterator[Follower]:
        """Events of `job_id`: its backlog first (registered first, then the backlog, so nothing
        falls in between), unless `replay` is off for a job not enqueued yet."""
        follower = Follower(self._redis, job_id)
        self._followers.setdefault(job_id, set()).add(follower)
        if replay:
            follower.resync()
        try:
            yield follower
        finally:
            followers = self._followers.get(job_id)
            if followers is not None:
                followers.discard(follower)
                if not followers:
                    del self._followers[job_id]

    async def run(self) -> None:
        """Keep the subscription alive until `stop()`, reconnecting with backoff."""
        delay, warned = 0.1, False
        while not self._stopping:
            try:
                await self._listen()
            except (RedisError, OSError) as exc:
                if self.connected.is_set() or not warned:  # once an outage, not an attempt
                    log.warning("event subscription lost (%s); reconnecting", type(exc).__name__)
                    delay = 0.1
                self.connected.clear()
                warned = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
            else:
                delay = 0.1

    def stop(self) -> None:
        """Make `run` return within a second. A flag, not only a cancellation: redis-py can
        swallow a cancellation that lands inside a pub/sub read, leaving the loop running."""
        self._stopping = True

    async def _listen(self) -> None:
        async with subscription(self._redis, keys.EVENTS_CHANNEL) as pubsub:
            self.connected.set()
            for followers in self._followers.values():
                for follower in followers:
                    follower.resync()
            while not self._stopping:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
                if message is not None:
                    self._dispatch(message["data"])

    def _dispatch(self, data: bytes) -> None:
        job_id, raw_id, payload = data.split(b" ", 2)
        followers = self._followers.get(job_id.decode())
        if followers:
            stream_id = parse_stream_id(raw_id)
            for follower in followers:
                follower.deliver(stream_id, payload)
