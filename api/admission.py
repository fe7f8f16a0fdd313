"""Refusing work we could not do well, before it is enqueued: the per-key rate limit, the queue
depth and Redis memory (SPEC §2.4, §5). One Redis round trip per request."""

import secrets
import time

from arq.connections import ArqRedis
from redis.exceptions import ResponseError

from common import keys
from common.config_types import Settings
from common.errors import RateLimited, ServiceUnavailable

QUEUE_RETRY_AFTER = 10
MEMORY_CHECK_EVERY = 1.0  # seconds; INFO is too costly to ask on every request


class Admission:
    def __init__(self, redis: ArqRedis, settings: Settings) -> None:
        self._redis = redis
        self._settings = settings
        self._memory_checked = 0.0
        self._memory_full = False

    async def admit(self, caller: str) -> None:
        now = time.time()
        limit = self._settings.rate_limit_per_minute
        log = keys.rate_log(caller)
        entry = f"{now}:{secrets.token_hex(4)}"
        async with self._redis.pipeline(transaction=False) as pipe:
            if limit:  # a sliding minute: no burst of twice the limit across a minute boundary
                pipe.zremrangebyscore(log, 0, now - 60)
                pipe.zadd(log, {entry: now})
                pipe.zrange(log, 0, -limit - 1, withscores=True)
                pipe.expire(log, 61)
            pipe.zcard(self._redis.default_queue_name)
            pipe.zrangebyscore(keys.WORKERS, now - keys.HEARTBEAT_FRESH, "+inf")
            pipe.hgetall(keys.WORKER_LOAD)
            *rate, queued, alive, loads = await pipe.execute()
        if limit and rate[2]:
            await self._redis.zrem(log, entry)  # a refused request does not use up the allowance
            oldest_counted = rate[2][-1][1]
            raise RateLimited(
                f"more than {limit} requests a minute with this key", retry_after=max(1, round(oldest_counted + 60 - now))
            )
        running = sum(int(loads.get(worker, 0)) for worker in alive)
        if queued - running >= self._settings.max_queue_depth:  # one more would pass the limit
            raise ServiceUnavailable(
                "too many images are waiting to be made; try again shortly", code="queue_full", retry_after=QUEUE_RETRY_AFTER
            )
        if await self._memory_full_now(now):
            raise ServiceUnavailable(
                "the image cache is full; try again when older images expire", code="cache_full", retry_after=60
            )

    async def _memory_full_now(self, now: float) -> bool:
        if now - self._memory_checked >= MEMORY_CHECK_EVERY:
            try:
                memory = await self._redis.info("memory")
            except ResponseError:  # the embedded in-memory Redis has no INFO, and no cap
                memory = {"maxmemory": 0}
            cap = int(memory.get("maxmemory", 0))
            self._memory_full = bool(cap) and int(memory["used_memory"]) > cap * self._settings.cache_high_water
            self._memory_checked = now
        return self._memory_full
