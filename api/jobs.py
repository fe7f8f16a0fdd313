"""Handing jobs to the workers and waiting for their outcome, for both generation routes."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

from arq.connections import ArqRedis
from arq.constants import job_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms
from litestar import Request
from msgspec.structs import replace
from redis.exceptions import RedisError

from api.admission import Admission
from api.errors import JobFailed
from common import keys
from common.config_types import Settings
from common.errors import ClientClosedRequest, RequestTimeout, ServiceUnavailable
from common.events import EventHub, Follower
from common.idempotency import Claim, release
from common.redis import job_serializer
from common.schemas import Completed, Failed, GenerateJob, JobResult, encode

REDIS_RETRY_AFTER = 5


class JobGateway:
    def __init__(self, redis: ArqRedis, hub: EventHub, settings: Settings) -> None:
        self._redis = redis
        self._hub = hub
        self._admission = Admission(redis, settings)
        self._claim_ttl = settings.image_expiration
        self.timeout = settings.request_timeout

    async def submit(self, job: GenerateJob, *, caller: str = "", idempotency_key: str | None = None, body: bytes = b"") -> str:
        """Enqueue `job`; return the id of the job to follow: `job.id`, or, for a retry with the
        same Idempotency-Key and body, the job the first request started."""
        try:
            if idempotency_key is None:
                await self._admit_and_enqueue(job, caller)
                return job.id
            claim = Claim(caller, idempotency_key, body, job.id)
            first = await claim.take(self._redis, self._claim_ttl)
            if first is not None:
                return first
            try:
                await self._admit_and_enqueue(replace(job, idempotency=(claim.key, claim.value)), caller)
            except BaseException:
                with contextlib.suppress(RedisError, OSError):
                    await release(self._redis, claim.key, claim.value)
                raise
            return job.id
        except (RedisError, OSError) as exc:
            raise ServiceUnavailable("Redis is unavailable; try again shortly", retry_after=REDIS_RETRY_AFTER) from exc

    async def _admit_and_enqueue(self, job: GenerateJob, caller: str) -> None:
        """arq's job record and queue entry, and the workers' wake-up, in one round trip.

        arq's own enqueue_job first WATCHes the job key to keep ids unique (three round trips);
        our ids are 128 random bits, so the record is written directly, in arq's format.
        """
        await self._admission.admit(caller)
        now = timestamp_ms()
        record = serialize_job("generate", (encode(job),), {}, None, now, serializer=job_serializer)
        async with self._redis.pipeline(transaction=True) as pipe:
            # Jobs nobody waits for any more expire instead of running.
            pipe.psetex(job_key_prefix + job.id, int(self.timeout * 1000), record)
            pipe.zadd(self._redis.default_queue_name, {job.id: now})
            pipe.publish(keys.WAKE_CHANNEL, b"")
            await pipe.execute()

    @property
    def waiting(self) -> int:
        return self._hub.waiting

    @contextlib.asynccontextmanager
    async def follow(self, job_id: str) -> AsyncIterator[Follower]:
        async with self._hub.follow(job_id) as follower:
            yield follower

    async def outcome(self, job_id: str, request: Request | None = None) -> JobResult:
        """The job's result; its failure raised; 504 once REQUEST_TIMEOUT has passed. Given the
        `request`, the wait also ends when its client leaves (the job itself goes on)."""
        if request is None:
            return await self._outcome(job_id)
        waiting = asyncio.ensure_future(self._outcome(job_id))
        leaving = asyncio.ensure_future(_disconnected(request))
        try:
            await asyncio.wait((waiting, leaving), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (waiting, leaving):
                task.cancel()
        if not waiting.cancelled() and waiting.done():
            return waiting.result()
        raise ClientClosedRequest(f"the client left before job {job_id} finished")

    async def _outcome(self, job_id: str) -> JobResult:
        deadline = asyncio.get_running_loop().time() + self.timeout
        async with self.follow(job_id) as follower:
            while (remaining := deadline - asyncio.get_running_loop().time()) > 0:
                event = await follower.next(remaining)
                if isinstance(event, Completed):
                    return event.result
                if isinstance(event, Failed):
                    raise JobFailed(event.error)
        raise timed_out(job_id, self.timeout)


async def _disconnected(request: Request) -> None:
    """Returns once the client has closed the connection (the body was already read)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


def timed_out(job_id: str, timeout: float) -> RequestTimeout:
    return RequestTimeout(f"no image within {timeout:g} s (job {job_id})")
