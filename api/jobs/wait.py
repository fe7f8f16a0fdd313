"""Handing jobs to the workers and waiting for their outcome, for both generation routes."""

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator, Awaitable
from typing import TypedDict, cast

from arq.connections import ArqRedis
from litestar import Request
from msgspec.structs import replace
from redis.exceptions import RedisError

from api.errors import JobFailed
from api.event_stream import UntilClientLeaves
from api.jobs.admit import Admission
from common.config.types import Settings
from common.errors import ClientClosedRequest, RequestTimeout, ServiceUnavailable
from common.schemas import Completed, Failed, GenerateJob, JobEvent, JobResult
from common.store.events import EventHub, Follower
from common.store.idempotency import Claim, release
from common.store.images import ImageStore
from common.store.jobs import JobStore

REDIS_RETRY_AFTER = 5
# How often a quiet wait makes sure its job still exists in Redis.
VANISH_CHECK = 2.0


class Submission(TypedDict):
    """Who submits a job, and what makes a retry the same request (JobClient.submit and run)."""

    caller: str
    idempotency_key: str | None
    body: bytes


def submission(request: Request, body: bytes) -> Submission:
    """The caller (api/auth.py sets it), its Idempotency-Key, and the body that key stands for."""
    return Submission(
        caller=request.state.caller,
        idempotency_key=request.headers.get("idempotency-key"),
        body=body,
    )


class JobClient:
    """Everything the generation routes need (one dependency: Litestar resolves several in
    a task group per request, which costs more than the rest of the route)."""

    def __init__(
        self, redis: ArqRedis, hub: EventHub, settings: Settings, images: ImageStore
    ) -> None:
        self._redis = redis
        self._hub = hub
        self._admission = Admission(redis, settings)
        self.settings = settings
        self.images = images
        self.jobs = JobStore(redis, redis.default_queue_name, settings.image_expiration)
        self.timeout = settings.request_timeout

    @property
    def waiting(self) -> int:
        return self._hub.waiting

    async def submit(
        self,
        job: GenerateJob,
        *,
        caller: str = "",
        idempotency_key: str | None = None,
        body: bytes = b"",
        expires: float | None = None,
    ) -> str:
        """Enqueue `job`; return the id of the job to follow: `job.id`, or, for a retry with the
        same Idempotency-Key and body, the job the first request started. The job expires
        unstarted after `expires` seconds (default REQUEST_TIMEOUT: nobody waits any more)."""
        expires = self.timeout if expires is None else expires
        try:
            if idempotency_key is None:
                await self._admission.enqueue(job, caller, expires)
                return job.id
            claim = Claim(caller, idempotency_key, body, job.id)
            first = await claim.take(self._redis, self.settings.records_ttl)
            if first is not None:
                return first
            try:
                # Jobs nobody waits for any more expire instead of running.
                await self._admission.enqueue(
                    replace(job, idempotency=(claim.key, claim.value)), caller, expires
                )
            except BaseException:
                with contextlib.suppress(RedisError, OSError):
                    await release(self._redis, claim.key, claim.value)
                raise
            return job.id
        except (RedisError, OSError) as exc:
            raise ServiceUnavailable(
                "Redis is unavailable; try again shortly", retry_after=REDIS_RETRY_AFTER
            ) from exc

    async def run(
        self,
        job: GenerateJob,
        request: Request,
        *,
        caller: str,
        idempotency_key: str | None,
        body: bytes,
    ) -> JobResult:
        """Submit `job` and wait for its outcome, until the client leaves. Followed from before
        it is enqueued, so no backlog needs reading; a retry attaching to an earlier job replays it."""
        async with self._hub.follow(job.id, replay=False) as follower:
            job_id = await self.submit(
                job, caller=caller, idempotency_key=idempotency_key, body=body
            )
            if job_id == job.id:
                return await _unless_client_leaves(self._outcome(follower, job_id), request, job_id)
        async with self.follow(job_id) as follower:
            return await _unless_client_leaves(self._outcome(follower, job_id), request, job_id)

    async def stream(
        self,
        job: GenerateJob,
        ping_every: float,
        *,
        caller: str,
        idempotency_key: str | None,
        body: bytes,
    ) -> tuple[str, AsyncIterator[JobEvent | None]]:
        """Submit `job` and return the id of the job to follow with its events (see
        `job_events`): what the streaming routes relay. Followed from before it is enqueued, so
        no backlog needs reading, which cost a stream ~0.1 ms of CPU; a retry attaching to an
        earlier job replays it. Submission errors are raised here, before the response starts."""
        submitted = Submission(caller=caller, idempotency_key=idempotency_key, body=body)
        events = self._followed(job, ping_every, submitted)
        job_id = cast(str, await anext(events))
        return job_id, cast(AsyncIterator[JobEvent | None], events)

    async def _followed(
        self, job: GenerateJob, ping_every: float, submitted: Submission
    ) -> AsyncIterator[str | JobEvent | None]:
        """The followed job's id, then its events. Started by `stream` before any response, so
        the follower is unregistered however the stream ends (asyncio closes a generator that
        is dropped once started)."""
        async with self._hub.follow(job.id, replay=False) as follower:
            job_id = await self.submit(job, **submitted)
            yield job_id
            if job_id == job.id:
                async for event in job_events(follower, job_id, self.timeout, ping_every):
                    yield event
                return
        async for event in self.events(job_id, ping_every):
            yield event

    @contextlib.asynccontextmanager
    async def follow(self, job_id: str) -> AsyncIterator[Follower]:
        async with self._hub.follow(job_id) as follower:
            yield follower

    async def events(
        self, job_id: str, ping_every: float | None = None
    ) -> AsyncIterator[JobEvent | None]:
        """Every event of `job_id` from its start to its end (see `job_events`), its backlog
        replayed: what a stream of an earlier job relays."""
        async with self.follow(job_id) as follower:
            async for event in job_events(follower, job_id, self.timeout, ping_every):
                yield event

    async def _outcome(self, follower: Follower, job_id: str) -> JobResult:
        """The job's result; its failure raised; 504 once REQUEST_TIMEOUT has passed."""
        async for event in job_events(follower, job_id, self.timeout):
            if isinstance(event, Completed):
                return event.result
            if isinstance(event, Failed):
                raise JobFailed(event.error)
        raise timed_out(job_id, self.timeout)  # unreachable: job_events ends with one of them


async def job_events(
    follower: Follower, job_id: str, timeout: float, ping_every: float | None = None
) -> AsyncIterator[JobEvent | None]:
    """The job's events up to and including its end (Completed or Failed). After `timeout`
    seconds a Failed carrying the 504 ends them; with `ping_every`, None comes each time that
    long passes without an event (a stream's keep-alive)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    quiet_since = checked = loop.time()
    while (remaining := deadline - loop.time()) > 0:
        now = loop.time()
        until_check = checked + VANISH_CHECK - now
        until_ping = quiet_since + ping_every - now if ping_every is not None else math.inf
        wait = max(min(remaining, until_check, until_ping), 0.0)
        event = await follower.next(wait)
        if event is None:
            now = loop.time()
            if wait >= until_check or now - checked >= VANISH_CHECK:
                checked = now
                if await follower.vanished(job_id):
                    yield Failed(vanished(job_id).info())
                    return
            if wait >= until_ping and deadline > now:
                quiet_since = now
                yield None
            continue
        quiet_since = loop.time()
        yield event
        if isinstance(event, (Completed, Failed)):
            return
    yield Failed(timed_out(job_id, timeout).info())


def vanished(job_id: str) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"job {job_id} was lost with Redis's data (a restart?) before it finished; send it again",
        retry_after=1,
    )


async def _unless_client_leaves(
    waiting: Awaitable[JobResult], request: Request, job_id: str
) -> JobResult:
    """The wait's result, unless the client closes the connection first (the job goes on)."""
    with UntilClientLeaves(request.receive):
        return await waiting
    raise ClientClosedRequest(f"the client left before job {job_id} finished")


def timed_out(job_id: str, timeout: float) -> RequestTimeout:
    return RequestTimeout(f"no image within {timeout:g} s (job {job_id})")
