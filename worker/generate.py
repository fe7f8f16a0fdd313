"""The `generate` job: prompt → size → upstream with failover → image store → result event.

Jobs may run more than once (a worker dies mid-job): a finished result is kept, and a rerun
publishes it again instead of paying the upstream twice.
"""

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from typing import NamedTuple

from msgspec.structs import replace
from redis.asyncio.client import Pipeline
from redis.exceptions import OutOfMemoryError, RedisError

from common.config.types import ModelSpec, ProviderSpec
from common.errors import ImagegateError, InvalidRequest, NotFound, StoreFailed
from common.logs import request_id
from common.prompt.size_plan import SizePlan, plan_size
from common.schemas import (
    Completed,
    Failed,
    GenerateJob,
    ImageOptions,
    JobResult,
    Progress,
    StoredImage,
    decode_job,
    decode_result,
    encode,
)
from common.store import keys, metrics
from common.store.idempotency import release
from common.store.images import STORED_HOLD, in_flight_member, stored_bytes
from common.store.jobs import JobMeta
from worker import background
from worker.enhance.llm import Enhancement, enhance_prompt
from worker.failover import Images, Notify
from worker.previews import PreviewRelay
from worker.providers import ADAPTERS
from worker.providers.base import Report, UpstreamRequest
from worker.render.reencode import reencode, target_format
from worker.services import Services

log = logging.getLogger("imagegate.worker")

REDIS_RETRY_AFTER = 5

# The worker's hook that adds arq's end-of-job writes to a pipeline (worker/loop.py ImageWorker.settle).
Settle = Callable[[Pipeline, str], None]


class Outcome(NamedTuple):
    event: Completed | Failed
    images: tuple[tuple[StoredImage, bytes], ...] = ()  # to store with the result
    store_result: bool = True


async def generate(ctx: dict, payload: bytes) -> None:
    services: Services = ctx["services"]
    job = decode_job(payload)
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
    services: Services, job: GenerateJob, ctx: dict, cancelled: asyncio.Event
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
        pipe.zrem(keys.IMAGES_IN_FLIGHT, _in_flight(job, services))
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
                elif tracked is not None:
                    background.end(services, pipe, job, tracked, failed, {})
                else:
                    await services.events.append(job.id, failed, pipe)
                pipe.zrem(
                    keys.IMAGES_IN_FLIGHT, _in_flight(job, services)
                )  # allowed past maxmemory
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


async def make_images(services: Services, job: GenerateJob) -> Outcome:
    found = services.settings.find_model(job.model)
    if found is None:
        raise NotFound(
            f"the model {job.model!r} is no longer configured",
            code="model_not_found",
            param="model",
        )
    provider, model = found
    if job.images and not model.edits:  # the configuration changed while the job waited
        raise InvalidRequest(
            f"the model {model.name!r} cannot edit images",
            param="model",
            code="edits_not_supported",
        )

    async def notify(text: str) -> None:
        # Only a stream or a job with a record shows progress; a waiting request needs the
        # outcome alone.
        if job.stream or job.answer is not None:
            await services.events.append(job.id, Progress(text))
        if job.answer is not None:
            await services.jobs.set_progress(job.id, text)

    enhancement = await enhance_prompt(services, job, model, notify)
    plan = plan_size(model, job.width, job.height, job.ratio, enhancement.ratio)
    request = _request(job, model, enhancement, plan)
    await notify(f"Generating {_count(job.n)} with {model.name} via {provider.name}")
    images, report = await _upstream_images(services, provider, request, job, notify)
    images = await _as_asked(images, job.options, model)
    stored = tuple((services.store.describe(info, len(data)), data) for data, info in images)
    await services.store.upload(stored)  # before the records: none may point at nothing
    notes = (*job.notes, *plan.notes)
    if len(images) < job.n:  # some OpenAI-compatible servers ignore `n`
        notes += (f"{provider.name} returned {len(images)} of the {job.n} images asked for",)
    result = JobResult(
        images=tuple(meta for meta, _ in stored),
        model=model.name,
        prompt=request.prompt,
        original=job.original,
        enhanced=enhancement.enhanced,
        usage=enhancement.usage,
        enhance_failure=enhancement.failure,
        ratio=plan.ratio,
        seed=request.seed,
        notes=notes,
        quality=report.quality or job.options.quality,
        background=report.background or _background(job.options),
        image_usage=report.usage,
    )
    return Outcome(Completed(result), stored)


def _background(options: ImageOptions) -> str:
    """What a model that reports nothing made: transparent only when asked of a model that
    makes it (the api refuses it of the others)."""
    return "transparent" if options.background == "transparent" else "opaque"


async def _as_asked(images: Images, options: ImageOptions, model: ModelSpec) -> Images:
    """Each image in the output format and compression asked, re-encoded where the upstream
    made something else (off the event loop: encoding a large image takes CPU)."""
    made = []
    for data, info in images:
        target = target_format(info, options, model)
        if target is None:
            made.append((data, info))
        else:
            made.append(await asyncio.to_thread(reencode, data, target, options.output_compression))
    return made


def _request(
    job: GenerateJob, model: ModelSpec, enhancement: Enhancement, plan: SizePlan
) -> UpstreamRequest:
    """The upstream request: the job's fields, the model's defaults, a random seed unless given."""
    options = job.options
    seed = options.seed if options.seed is not None else secrets.randbits(32)
    # An edit keeps its input's size unless the client asked for one.
    sized = not job.images or job.width is not None or job.ratio is not None
    return UpstreamRequest(
        prompt=enhancement.prompt[: model.prompt_limit],
        model=model,
        width=plan.width if sized else None,
        height=plan.height if sized else None,
        seed=seed if model.seeds else None,
        negative_prompt=options.negative_prompt,
        steps=options.steps if options.steps is not None else model.steps,
        cfg=options.cfg if options.cfg is not None else model.cfg,
        options=options,
        images=job.images,
        mask=job.mask,
        input_fidelity=job.input_fidelity,
    )


async def _upstream_images(
    services: Services,
    provider: ProviderSpec,
    base: UpstreamRequest,
    job: GenerateJob,
    notify: Notify,
) -> tuple[Images, Report]:
    """`job.n` images in as few upstream calls as the model's batch allows, the calls in
    parallel; and what the calls reported, added up. Previews go out as they come."""
    adapter, model = ADAPTERS[provider.kind], base.model
    relay = PreviewRelay(services.events, job.id, job.previews if job.stream else 0)
    calls = [(first, size, relay.report(first)) for first, size in _split(job.n, model.batch)]
    batches = await asyncio.gather(
        *(
            services.failover.run(
                provider, adapter, _batch(base, model.seeds, first, size), notify, report
            )
            for first, size, report in calls
        ),
        return_exceptions=True,  # every call ends before the job does: none outlives a failed job
    )
    images: Images = []
    for batch in batches:
        if isinstance(batch, BaseException):
            raise batch
        images.extend(batch)
    total = Report()
    for *_, report in calls:
        total.made(usage=report.usage, quality=report.quality, background=report.background)
    return images[: job.n], total


def _split(n: int, batch: int) -> list[tuple[int, int]]:
    """(first image index, images in this call) for each upstream call n images need."""
    return [(first, min(batch, n - first)) for first in range(0, n, max(batch, 1))]


def _batch(base: UpstreamRequest, seeds: bool, first: int, size: int) -> UpstreamRequest:
    seed = base.seed + first if seeds and base.seed is not None else base.seed
    return replace(base, n=size, seed=seed)


def _count(n: int) -> str:
    return "an image" if n == 1 else f"{n} images"
