"""The `generate` job: its images made (worker/make.py), then stored with the result and the
outcome event in one transaction, the job's commit point.

Jobs may run more than once (a worker dies mid-job): a finished result is kept, and a rerun
publishes it again instead of paying the upstream twice.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from typing import NamedTuple

from redis.asyncio.client import Pipeline
from redis.exceptions import OutOfMemoryError, RedisError

from common.errors import ImagegateError, StoreFailed
from common.logs import request_id
from common.schemas import (
    Completed,
    Failed,
    GenerateJob,
    decode_job,
    decode_result,
    encode,
)
from common.store import keys, metrics
from common.store.idempotency import release
from common.store.images import STORED_HOLD, in_flight_member, release_reservation, stored_bytes
from common.store.jobs import JobMeta
from worker import background
from worker.make import Outcome, make_images
from worker.services import Services

log = logging.getLogger("imagegate.worker")

REDIS_RETRY_AFTER = 5

# The worker's hook that adds arq's end-of-job writes to a pipeline (worker/loop.py ImageWorker.settle).
Settle = Callable[[Pipeline, str], None]


async def generate(ctx: dict, payload: GenerateJob | bytes) -> None:
    """Run one job: its record holds the GenerateJob itself, or (queued by an earlier release,
    or by arq's enqueue_job) the job's msgpack."""
    services: Services = ctx["services"]
    job = payload if isinstance(payload, GenerateJob) else decode_job(payload)
    token = request_id.set(job.request_id)
    started = time.perf_counter()
    settle = Settlement(ctx.get("settle"), ctx.get("settled"))
    try:
        with background.watch(ctx, job.id) as cancelled:
            tracked = None
            if job.answer is not None:
                run, tracked = await background.begin(services, job)
                if not run:  # cancelled while queued: the upstream never hears of it
                    return await _drop(services, job, settle)
            outcome = await _outcome(services, job, ctx, cancelled)
            if outcome is None:  # cancelled while running
                return await _drop(services, job, settle)
            try:
                await _finish(
                    services, job, outcome, time.perf_counter() - started, settle, tracked
                )
            except (RedisError, OSError) as exc:
                await _store_failed(services, job, exc, settle, tracked)
    finally:
        request_id.reset(token)


class Settlement(NamedTuple):
    """The worker's hooks: `add` puts arq's end-of-job writes into a pipeline; `done` is told
    once that pipeline ran, so the job counts as finished only when its writes are in Redis."""

    add: Settle | None
    done: Callable[[str], None] | None

    def into(self, pipe: Pipeline, job_id: str) -> None:
        if self.add is not None:
            self.add(pipe, job_id)

    def ran(self, job_id: str) -> None:
        if self.done is not None:
            self.done(job_id)


async def _outcome(
    services: Services, job: GenerateJob, ctx: dict, cancelled: background.Cancellation
) -> Outcome | None:
    # Only a rerun (a worker died mid-job) can find a result already kept.
    previous = await _previous_result(services, job.id) if ctx.get("job_try") != 1 else None
    if previous:
        return Outcome(previous, store_result=False)
    return await background.unless_cancelled(_run(services, job), cancelled)


async def _drop(services: Services, job: GenerateJob, settle: Settlement) -> None:
    """A cancelled job: its end was written by the cancel; only arq's bookkeeping is left."""
    log.info("job cancelled", extra={"job_id": job.id, "model": job.model})
    async with services.redis.pipeline(transaction=True) as pipe:
        settle.into(pipe, job.id)
        await pipe.execute()
    settle.ran(job.id)


async def _finish(
    services: Services,
    job: GenerateJob,
    outcome: Outcome,
    seconds: float,
    settle: Settlement,
    tracked: JobMeta | None = None,
) -> None:
    """Store the images and the result, announce the outcome, count it and settle arq's
    bookkeeping: one transaction, one round trip, so a result is never announced without its
    images, nor kept without them. This write is the job's commit point."""
    event = outcome.event
    label = (event.error.code or "failed") if isinstance(event, Failed) else "completed"
    found = services.settings.find_model(job.model)
    provider = found[0].name if found else "unknown"
    inline = {}  # the bytes a b64_json answer carries
    if tracked is not None and isinstance(event, Completed):
        made = {stored.id: raw for stored, raw in outcome.images}
        inline = await background.image_bytes(services, job, event.result, made)
    async with services.redis.pipeline(transaction=True) as pipe:
        for meta, data in outcome.images:
            services.store.stage(pipe, meta, data)
        if outcome.store_result and isinstance(event, Completed):
            pipe.set(
                keys.job_result(job.id), encode(event.result), ex=services.settings.records_ttl
            )
        if tracked is not None:
            background.end(services, pipe, job, tracked, event, inline)
        else:
            await services.events.append(job.id, event, pipe)
        metrics.job_finished(pipe, provider, job.model, label, seconds)
        # The images are stored now: their reservation gives way to their real size, counted
        # until the api's memory sample sees them.
        release_reservation(pipe, _in_flight(job, services))
        if outcome.images:
            in_redis = services.settings.s3 is None
            kept = stored_bytes((data for _, data in outcome.images), in_redis)
            pipe.hincrby(keys.IMAGES_STORED_RECENTLY, str(int(time.time())), kept)
            pipe.expire(keys.IMAGES_STORED_RECENTLY, STORED_HOLD + 2)
        settle.into(pipe, job.id)
        await pipe.execute()
    settle.ran(job.id)
    log.info(
        "job finished",
        extra={
            "job_id": job.id,
            "provider": provider,
            "model": job.model,
            "outcome": label,
            "duration_ms": round(seconds * 1000),
        },
    )


def _in_flight(job: GenerateJob, services: Services) -> str:
    in_redis = services.settings.s3 is None
    return in_flight_member(job.id, job.n, job.width, job.height, in_redis)


async def _store_failed(
    services: Services,
    job: GenerateJob,
    exc: Exception,
    settle: Settlement,
    tracked: JobMeta | None = None,
) -> None:
    """The final write failed (Redis full or gone): fail the job once, with a 503 that tells
    SDKs not to retry, and settle it so it never runs, and pays the upstream, again. Redis is
    asked until it answers or no client waits any more."""
    full = isinstance(exc, OutOfMemoryError)
    log.error(
        "the job's result could not be stored (%s)",
        type(exc).__name__,
        extra={"job_id": job.id, "cache_full": full},
    )
    if full:
        error = StoreFailed(
            "the image was made but the image cache is full, so it could not be kept",
            code="cache_full",
            retry_after=60,
        )
    else:
        error = StoreFailed(
            "the image was made but Redis failed while it was being stored",
            retry_after=REDIS_RETRY_AFTER,
        )
    failed = Failed(error.info())
    deadline = time.monotonic() + services.settings.request_timeout
    while True:
        try:
            # Past maxmemory Redis refuses every command queued in a MULTI, even a DEL, so a
            # full Redis gets the writes it still allows (deletions, PUBLISH) one by one.
            async with services.redis.pipeline(transaction=not full) as pipe:
                if full:  # nothing can be kept: the waiting requests are told, nothing more
                    services.events.announce(job.id, failed, pipe)
                    # Allowed past maxmemory, unlike DECRBY: the total heals at its next recount.
                    pipe.zrem(keys.IMAGES_IN_FLIGHT, _in_flight(job, services))
                else:
                    if tracked is not None:
                        background.end(services, pipe, job, tracked, failed, {})
                    else:
                        await services.events.append(job.id, failed, pipe)
                    release_reservation(pipe, _in_flight(job, services))
                if job.idempotency is not None:  # the key is free for a fresh try
                    pipe.delete(job.idempotency[0])
                settle.into(pipe, job.id)
                await pipe.execute()
            settle.ran(job.id)
            return
        except (RedisError, OSError) as again:
            if time.monotonic() > deadline:
                log.error(
                    "the job's failure could not be recorded either (%s)",
                    type(again).__name__,
                    extra={"job_id": job.id},
                )
                return
            full = isinstance(again, OutOfMemoryError)
            await asyncio.sleep(1)


async def _previous_result(services: Services, job_id: str) -> Completed | None:
    stored = await services.redis.get(keys.job_result(job_id))
    return Completed(decode_result(stored)) if stored else None


async def _run(services: Services, job: GenerateJob) -> Outcome:
    try:
        return await make_images(services, job)
    except ImagegateError as exc:
        return await _failed(services, job, exc)
    except Exception:
        log.exception("job failed unexpectedly", extra={"job_id": job.id})
        return await _failed(
            services,
            job,
            ImagegateError("the image could not be made because of an internal error"),
        )


async def _failed(services: Services, job: GenerateJob, error: ImagegateError) -> Outcome:
    if job.idempotency is not None:  # a failed job frees its Idempotency-Key for a fresh try
        await release(services.redis, *job.idempotency)
    return Outcome(Failed(error.info()))
