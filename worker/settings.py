"""The arq settings of the imagegate worker, and the factory that binds them to our settings."""

import httpx
from arq.connections import ArqRedis
from arq.worker import func

from common.config.types import Settings
from common.store.redis import job_deserializer, job_serializer
from worker.generate import generate
from worker.loop import ImageWorker
from worker.services import build_services


async def on_startup(ctx: dict) -> None:
    ctx["services"] = build_services(ctx["settings"], ctx["redis"], ctx.get("transport"))


async def on_shutdown(ctx: dict) -> None:
    await ctx["services"].http.aclose()


class WorkerSettings:
    functions = [func(generate, name="generate", max_tries=3)]
    on_startup = on_startup
    on_shutdown = on_shutdown
    # Results travel as job events; arq's own result records would be dead weight.
    keep_result = 0
    # SIGTERM: stop taking jobs, let running ones finish for this long.
    job_completion_wait = 300


def create_worker(
    settings: Settings,
    redis: ArqRedis,
    *,
    handle_signals: bool = True,
    transport: httpx.AsyncBaseTransport | None = None,
) -> ImageWorker:
    return ImageWorker(
        functions=WorkerSettings.functions,
        on_startup=WorkerSettings.on_startup,
        on_shutdown=WorkerSettings.on_shutdown,
        redis_pool=redis,
        max_jobs=settings.worker_concurrency,
        keep_result=WorkerSettings.keep_result,
        job_timeout=settings.request_timeout + 30,
        job_completion_wait=int(min(settings.request_timeout, WorkerSettings.job_completion_wait)),
        handle_signals=handle_signals,
        ctx={"settings": settings, "transport": transport},
        log_results=False,
        lease_seconds=settings.job_lease,
        job_serializer=job_serializer,
        job_deserializer=job_deserializer,
    )
