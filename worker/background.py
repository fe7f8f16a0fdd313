"""The worker's side of jobs with a record (common/store/jobs.py): started unless cancelled,
dropped at once when cancelled while running, ended with the route's answer stored."""

import asyncio
import contextlib
from collections.abc import Awaitable, Iterator
from typing import TypeVar

import msgspec
from redis.asyncio.client import Pipeline

from common.answers import answer, needs_bytes
from common.schemas import Completed, Failed, GenerateJob, JobEvent, JobResult
from common.store.jobs import JobMeta, error_json
from worker.services import Services

_encode = msgspec.json.Encoder().encode
T = TypeVar("T")


@contextlib.contextmanager
def watch(ctx: dict, job_id: str) -> Iterator[asyncio.Event]:
    """An event the worker sets when the job is cancelled (worker/loop.py listens); registered
    before the job's start is recorded, so a cancel in between is never missed."""
    cancels: dict[str, asyncio.Event] = ctx.setdefault("cancels", {})
    cancelled = cancels[job_id] = asyncio.Event()
    try:
        yield cancelled
    finally:
        cancels.pop(job_id, None)


async def begin(services: Services, job: GenerateJob) -> tuple[bool, JobMeta | None]:
    """Whether to run the job (not if it was cancelled first), and its record's meta (None
    when the record is gone: the job then runs without one)."""
    status = await services.jobs.start(job.id)
    if status == "canceled":
        return False, None
    record = await services.jobs.load(job.id) if status else None
    return True, record.meta if record else None


async def unless_cancelled(work: Awaitable[T], cancelled: asyncio.Event) -> T | None:
    """`work`'s result, or None once the job is cancelled (then `work` is abandoned at once:
    an upstream call in flight is dropped and no image is fetched)."""
    task = asyncio.ensure_future(work)
    stop = asyncio.ensure_future(cancelled.wait())
    try:
        await asyncio.wait((task, stop), return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    return None if task.cancelled() else task.result()


async def image_bytes(
    services: Services, job: GenerateJob, result: JobResult, made: dict[str, bytes]
) -> dict[str, bytes | memoryview]:
    """The bytes the stored answer inlines (b64_json): those just made, else from the store."""
    if job.answer is None or not needs_bytes(job.answer):
        return {}
    found: dict[str, bytes | memoryview] = dict(made)
    for image in result.images:
        if image.id not in found and (cached := await services.store.get(image.id)):
            found[image.id] = cached.data
    return found


def end(
    services: Services,
    pipe: Pipeline,
    job: GenerateJob,
    meta: JobMeta,
    event: JobEvent,
    data: dict[str, bytes | memoryview],
) -> None:
    """Add the job's end to `pipe`: succeeded with the route's answer, or failed."""
    if isinstance(event, Completed) and job.answer is not None:
        body = _encode(answer(job.answer, job.id, event.result, data))
        services.jobs.end(meta, "succeeded", event, result=body, pipe=pipe)
    elif isinstance(event, Failed):
        services.jobs.end(meta, "failed", event, error=error_json(event.error), pipe=pipe)
