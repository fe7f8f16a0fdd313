"""Background jobs on every generation route: `Prefer: respond-async` answers 202 with the job
at once, `Prefer: wait=N` waits up to N seconds for the route's normal answer first, and a
`webhook_url` is called when the job ends. One hook, `track`, serves every route."""

import asyncio
import contextlib
from collections.abc import Iterator
from typing import NamedTuple

import msgspec
from litestar import Request, Response
from msgspec.structs import replace
from redis.exceptions import RedisError

from api.errors import JobFailed
from api.jobs.wait import REDIS_RETRY_AFTER, JobClient
from api.urls import public_base_url
from common.config.types import Settings
from common.errors import IdempotencyKeyReused, InvalidRequest, ServiceUnavailable
from common.net import origin, public_or_unresolved
from common.schemas import AnswerSpec, Completed, Failed, GenerateJob
from common.store.events import Follower
from common.store.jobs import LIVE_SECONDS, Record

MAX_WAIT = 60
_encode = msgspec.json.Encoder().encode


class Preference(NamedTuple):
    respond_async: bool = False
    wait: int | None = None

    @property
    def background(self) -> bool:
        return self.respond_async or self.wait is not None


def preference(request: Request) -> Preference:
    """The `Prefer` header's respond-async and wait=N (RFC 7240); other preferences are ignored."""
    respond_async, wait = False, None
    for header in request.headers.getall("prefer", []):
        for token in header.split(","):
            name, _, value = token.split(";")[0].strip().partition("=")
            if name.strip().lower() == "respond-async":
                respond_async = True
            elif name.strip().lower() == "wait":
                wait = _wait_seconds(value.strip().strip('"'))
    return Preference(respond_async, wait)


def _wait_seconds(value: str) -> int:
    if not value.isdigit():
        raise InvalidRequest("Prefer: wait=N takes a whole number of seconds", param="Prefer")
    if int(value) > MAX_WAIT:
        raise InvalidRequest(
            f"Prefer: wait can be at most {MAX_WAIT} seconds; "
            "send Prefer: respond-async and poll the job instead",
            param="Prefer",
        )
    return int(value)


async def check_webhook(url: str, settings: Settings) -> None:
    """400 unless imagegate can sign deliveries and `url` is http(s) on a public address (or
    on a host WEBHOOK_ALLOW_HOSTS names)."""
    if not settings.webhook_secret:
        raise InvalidRequest(
            "webhook_url needs WEBHOOK_SECRET set on this gateway: unsigned webhooks can be forged",
            param="webhook_url",
        )
    scheme, host, port = origin(url)
    if scheme not in ("http", "https") or not host:
        raise InvalidRequest("webhook_url must be an http(s) URL", param="webhook_url")
    if host in settings.webhook_allow_hosts:
        return
    public = await public_or_unresolved(host, port)
    if public is None:
        raise InvalidRequest("the host of webhook_url does not resolve", param="webhook_url")
    if not public:
        raise InvalidRequest(
            "webhook_url points to a private, loopback or link-local address; refused "
            "(WEBHOOK_ALLOW_HOSTS lists hosts allowed anyway)",
            param="webhook_url",
        )


@contextlib.contextmanager
def redis_errors() -> Iterator[None]:
    try:
        yield
    except (RedisError, OSError) as exc:
        raise ServiceUnavailable(
            "Redis is unavailable; try again shortly", retry_after=REDIS_RETRY_AFTER
        ) from exc


async def track(
    request: Request,
    gateway: JobClient,
    job: GenerateJob,
    *,
    route: str,
    webhook_url: str | None,
    response_format: str | None = None,
    stream: bool = False,
    body: bytes | None = None,
) -> GenerateJob | Response:
    """The job to run as usual, or, when the client prefers a background job, its answer.

    A job gets a record when it runs in the background or has a webhook (then `job.answer` is
    set); a webhook without `Prefer` still answers as usual, and calls back as well. `body` is
    what identifies the request for Idempotency-Key (default: the request body)."""
    prefer = preference(request)
    if webhook_url is not None:
        await check_webhook(webhook_url, gateway.settings)
    if not prefer.background and webhook_url is None:
        return job
    if prefer.background and stream:
        raise InvalidRequest(
            "Prefer: respond-async and wait do not go with stream: true", param="stream"
        )
    base_url = public_base_url(request, gateway.settings)
    answer = AnswerSpec(route=route, base_url=base_url, response_format=response_format)
    # Admission writes the record with the job (api/jobs/admit.py).
    job = replace(job, answer=answer, webhook_url=webhook_url)
    if not prefer.background:
        return job
    body = await request.body() if body is None else body
    return await _background(request, gateway, job, base_url, prefer.wait, body)


async def _background(
    request: Request,
    gateway: JobClient,
    job: GenerateJob,
    base_url: str,
    wait: int | None,
    body: bytes,
) -> Response:
    """Enqueue (never expiring unstarted: nobody waits for a background job), then 202, or
    the normal answer when the job ends within `wait` seconds."""
    async with gateway.follow(job.id) as follower:  # before enqueueing: no event is missed
        job_id = await gateway.submit(
            job,
            caller=request.state.caller,
            idempotency_key=request.headers.get("idempotency-key"),
            body=body,
            expires=LIVE_SECONDS,
        )
        if job_id != job.id:  # an Idempotency-Key retry: the first request's job
            return await _existing(gateway, job_id, request.state.caller, base_url)
        end = await _until_done(follower, wait) if wait else None
    with redis_errors():
        record = await gateway.jobs.load(job.id)
    if record is None:
        raise ServiceUnavailable("the job's record vanished; Redis lost its data", retry_after=5)
    # Only a client that asked to wait gets the route's answer: respond-async alone is 202 even
    # when an instant upstream ended the job before this answer was made.
    if wait and record.status == "succeeded" and record.result is not None:
        return Response(content=record.result, media_type="application/json", status_code=200)
    if record.status == "failed" and isinstance(end, Failed):
        raise JobFailed(end.error)  # as a waiting client would have had it
    return await job_response(gateway, record, base_url, status_code=202)


async def _existing(gateway: JobClient, job_id: str, owner: str, base_url: str) -> Response:
    with redis_errors():
        record = await gateway.jobs.load(job_id, owner)
    if record is None:
        raise IdempotencyKeyReused(
            "this Idempotency-Key belongs to a request that was not a background job"
        )
    return await job_response(gateway, record, base_url, status_code=202)


async def _until_done(follower: Follower, seconds: float) -> Completed | Failed | None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (remaining := deadline - loop.time()) > 0:
        event = await follower.next(remaining)
        if isinstance(event, Completed | Failed):
            return event
    return None


async def job_response(
    gateway: JobClient, record: Record, base_url: str, *, status_code: int = 200
) -> Response:
    """The job object; a 202 carries `Location`, absolute like every URL we answer."""
    position = None
    if record.status == "queued":
        with redis_errors():
            position = await gateway.jobs.queue_position(record.meta.id)
    view = record.view(base_url, position)
    headers = {"Location": view.urls["self"]} if status_code == 202 else {}
    return Response(
        content=_encode(view),
        media_type="application/json",
        status_code=status_code,
        headers=headers,
    )
