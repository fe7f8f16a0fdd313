"""The arq settings of the imagegate worker, and the factory that binds them to our settings."""

import asyncio
import contextlib
import logging

from arq.connections import ArqRedis
from arq.worker import func

from common.config.types import Settings
from common.store.arq_compat import worker_kwargs
from common.store.images import ImageStore
from common.store.redis import job_deserializer, job_serializer
from worker.generate import generate
from worker.loop import ImageWorker
from worker.services import build_services
from worker.webhooks import deliver_webhook

log = logging.getLogger("imagegate.worker")


# How often a worker deletes the objects of expired images (IMAGE_STORE=s3): none outlives its
# record by much more than this.
SWEEP_SECONDS = 30.0


async def on_startup(ctx: dict) -> None:
    ctx["services"] = services = build_services(ctx["settings"], ctx["redis"])
    ctx["sweeper"] = asyncio.create_task(_sweep_forever(services.store))


async def on_shutdown(ctx: dict) -> None:
    ctx["sweeper"].cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await ctx["sweeper"]
    await ctx["services"].http.aclose()
    await ctx["services"].store.close()


async def _sweep_forever(store: ImageStore, every: float = SWEEP_SECONDS) -> None:
    """Workers share the sweep (a lock in Redis lets one at a time run it); a failing bucket
    or Redis outage only delays it."""
    while True:
        try:
            if deleted := await store.sweep():
                log.info("expired images deleted from the bucket", extra={"count": deleted})
        except Exception as exc:
            log.warning("image sweep failed", extra={"error": type(exc).__name__})
        await asyncio.sleep(every)


class WorkerSettings:
    """arq's Worker arguments that do not depend on imagegate's settings."""

    functions = [
        func(generate, name="generate", max_tries=3),
        # Tried again by arq only when a worker died mid-attempt; a failed attempt enqueues the
        # next one itself, after its backoff.
        func(deliver_webhook, name="deliver_webhook", max_tries=3, timeout=60),
    ]
    on_startup = on_startup
    on_shutdown = on_shutdown
    # Results travel as job events; arq's own result records would be dead weight.
    keep_result = 0
    log_results = False
    # SIGTERM: stop taking jobs, let running ones finish for this long.
    job_completion_wait = 300
    # msgpack, never pickle: a job read from Redis must not be able to run code.
    job_serializer = job_serializer
    job_deserializer = job_deserializer


def create_worker(
    settings: Settings,
    redis: ArqRedis,
    *,
    handle_signals: bool = True,
    bulk_reads: bool = False,
) -> ImageWorker:
    arguments = worker_kwargs(
        WorkerSettings,
        redis_pool=redis,
        max_jobs=settings.worker_concurrency,
        job_timeout=settings.request_timeout + 30,
        job_completion_wait=int(min(settings.request_timeout, WorkerSettings.job_completion_wait)),
        handle_signals=handle_signals,
        ctx={"settings": settings},
    )
    return ImageWorker(**arguments, lease_seconds=settings.job_lease, bulk_reads=bulk_reads)
