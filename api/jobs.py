"""Handing jobs to the workers and waiting for their outcome, for both generation routes."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

from arq.connections import ArqRedis
from redis.exceptions import RedisError

from api.errors import JobFailed
from common import keys
from common.config_types import Settings
from common.errors import RequestTimeout, ServiceUnavailable
from common.events import EventHub, Follower
from common.schemas import Completed, Failed, GenerateJob, JobResult, encode

REDIS_RETRY_AFTER = 5


class JobGateway:
    def __init__(self, redis: ArqRedis, hub: EventHub, settings: Settings) -> None:
        self._redis = redis
        self._hub = hub
        self.timeout = settings.request_timeout

    async def submit(self, job: GenerateJob) -> None:
        try:
            # Jobs nobody waits for any more expire instead of running.
            await self._redis.enqueue_job("generate", encode(job), _job_id=job.id, _expires=self.timeout)
            await self._redis.publish(keys.WAKE_CHANNEL, b"")
        except (RedisError, OSError) as exc:
            raise ServiceUnavailable("Redis is unavailable; try again shortly", retry_after=REDIS_RETRY_AFTER) from exc

    @contextlib.asynccontextmanager
    async def follow(self, job_id: str) -> AsyncIterator[Follower]:
        async with self._hub.follow(job_id) as follower:
            yield follower

    async def outcome(self, job_id: str) -> JobResult:
        """The job's result; its failure raised; 504 once REQUEST_TIMEOUT has passed."""
        deadline = asyncio.get_running_loop().time() + self.timeout
        async with self.follow(job_id) as follower:
            while (remaining := deadline - asyncio.get_running_loop().time()) > 0:
                event = await follower.next(remaining)
                if isinstance(event, Completed):
                    return event.result
                if isinstance(event, Failed):
                    raise JobFailed(event.error)
        raise timed_out(job_id, self.timeout)


def timed_out(job_id: str, timeout: float) -> RequestTimeout:
    return RequestTimeout(
        f"no image within {timeout:g} s (job {job_id})"
    )
