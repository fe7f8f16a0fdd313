"""/v1/jobs: the caller's background jobs, polled, listed, followed as SSE and cancelled.

Every route sees only the jobs of the gateway key asking: another key's job is a 404.
"""

from typing import Annotated

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, Parameter
from redis.exceptions import RedisError

from api.auth import require_gateway_key
from api.event_stream import Chunks, EventStream, Last
from api.jobs.background import job_response, redis_errors
from api.jobs.wait import JobClient
from api.urls import public_base_url
from common.errors import JobFinished, NotFound
from common.schemas import Completed, Failed, Progress
from common.store.jobs import TERMINAL, Record

PING_EVERY = 15.0
_encode = msgspec.json.Encoder().encode
# What a client waiting for a job that gets cancelled is told.
CANCELED = Failed(JobFinished("the job was cancelled", code="job_canceled").info())


async def _owned(request: Request, gateway: JobClient, job_id: str) -> Record:
    with redis_errors():
        record = await gateway.jobs.load(job_id, request.state.caller)
    if record is None:
        raise NotFound(f"no job {job_id!r} for this API key", param="id")
    return record


@get("/v1/jobs/{job_id:str}", guards=[require_gateway_key])
async def get_job(
    request: Request, job_id: FromPath[str], gateway: NamedDependency[JobClient]
) -> Response:
    record = await _owned(request, gateway, job_id)
    return await job_response(gateway, record, public_base_url(request, gateway.settings))


@get("/v1/jobs", guards=[require_gateway_key])
async def list_jobs(
    request: Request,
    gateway: NamedDependency[JobClient],
    limit: Annotated[int, Parameter(ge=1, le=100)] = 20,
    after: Annotated[str | None, Parameter(max_length=64)] = None,
) -> Response:
    with redis_errors():
        records, more = await gateway.jobs.page(request.state.caller, limit, after)
    base_url = public_base_url(request, gateway.settings)
    # Positions are for a single job's poll: a page of them would cost a script per job.
    body = {"object": "list", "data": [r.view(base_url) for r in records], "has_more": more}
    return Response(content=_encode(body), media_type="application/json")


@post("/v1/jobs/{job_id:str}/cancel", status_code=200, guards=[require_gateway_key])
async def cancel_job(
    request: Request, job_id: FromPath[str], gateway: NamedDependency[JobClient]
) -> Response:
    record = await _owned(request, gateway, job_id)
    if record.status not in TERMINAL:
        with redis_errors():
            await gateway.jobs.end(record.meta, "canceled", CANCELED, cancel=True)
            record = await _owned(request, gateway, job_id)
    if record.status != "canceled":
        raise JobFinished(f"job {job_id} already ended ({record.status}); it cannot be cancelled")
    return await job_response(gateway, record, public_base_url(request, gateway.settings))


@get("/v1/jobs/{job_id:str}/events", guards=[require_gateway_key])
async def job_events(
    request: Request, job_id: FromPath[str], gateway: NamedDependency[JobClient]
) -> EventStream:
    record = await _owned(request, gateway, job_id)
    return EventStream(_events(gateway, record, public_base_url(request, gateway.settings)))


async def _events(gateway: JobClient, record: Record, base_url: str) -> Chunks:
    """The job's progress from its start (replayed), then `done` with the final job object."""
    job_id = record.meta.id
    async with gateway.follow(job_id) as follower:
        while True:
            # An ended job's events replay at once; past that only its record is left to show.
            event = await follower.next(1.0 if record.status in TERMINAL else PING_EVERY)
            if isinstance(event, Progress):
                yield b"event: progress\ndata: " + _encode({"text": event.text}) + b"\n\n"
            elif isinstance(event, Completed | Failed):
                break
            elif event is None:
                # Now and then, in case the end's announcement was missed.
                latest = await _reload(gateway, record)
                if latest is None or latest.status in TERMINAL:  # ended, or lost with Redis
                    record = latest or record
                    break
                record = latest
                yield b": ping\n\n"
    record = await _reload(gateway, record) or record
    yield Last(b"event: done\ndata: " + _encode(record.view(base_url)) + b"\n\n")


async def _reload(gateway: JobClient, record: Record) -> Record | None:
    """The job's record now (None once it is gone); the one held while Redis is unreachable
    (a stream already begun cannot turn into a 503)."""
    try:
        return await gateway.jobs.load(record.meta.id)
    except (RedisError, OSError):
        return record
