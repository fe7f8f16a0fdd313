"""The worker's side of jobs with a record (common/store/jobs.py): started unless cancelled,
dropped at once when cancelled while running, ended with the route's answer stored."""

import asyncio
import contextlib
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import msgspec
from redis.asyncio.client import Pipeline

from common.answers import answer, needs_bytes
from common.schemas import Completed, Failed, GenerateJob, JobEvent, JobResult
from common.store.jobs import JobMeta, error_json
from worker.services import Services

_encode = msgspec.json.Encoder().encode
T = TypeVar("T")


class Cancellation:
    """A running job's cancel: set by the worker's listener (worker/loop.py), it cancels the
    job's upstream work at once, if any is running (unless_cancelled)."""

    __slots__ = ("requested", "_work")

    def __init__(self) -> None:
        self.requested = False
        self._work: asyncio.Future | None = None

    def set(self) -> None:
        self.requested = True
        if self._work is not None:
            self._work.cancel()


@contextlib.contextmanager
def watch(ctx: dict, job_id: str) -> Iterator[Cancellation]:
    """The job's cancellation, registered before the job's start is recorded, so a cancel in
    between is never missed."""
    cancels: dict[str, Cancellation] = ctx.setdefault("cancels", {})
    cancelled = cancels[job_id] = Cancellation()
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


async def unless_cancelled(work: Coroutine[Any, Any, T], cancelled: Cancellation) -> T | None:
    """`work`'s result, or None once the job is cancelled (then `work` is abandoned at once:
    an upstream call in flight is dropped and no image is fetched). One task, cancelled by the
    cancel itself: racing it against a task waiting for an event cost two tasks and a wait."""
    if cancelled.requested:
        work.close()
        return None
    task = cancelled._work = asyncio.ensure_future(work)
    try:
        return await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if cancelled.requested and not (current and current.cancelling()):
            return None
        raise  # the worker itself is stopping
    finally:
        cancelled._work = None


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
