"""Running the api, the worker, or both in one process."""

import asyncio
import contextlib
import secrets
import socket
import sys
import time

import uvicorn
from msgspec.structs import replace

from api.app import create_app
from common.config.types import Settings
from common.store import keys
from common.store.redis import DEFAULT_URL, connect
from imagegate.embedded import private_redis
from worker.settings import create_worker

DRAIN_SECONDS = 30


def _server(app, host: str, port: int) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
    return uvicorn.Server(config)


def run_api(settings: Settings) -> None:
    _server(create_app(settings), settings.host, settings.port).run()


async def run_worker(settings: Settings) -> None:
    redis = connect(settings.redis_url or DEFAULT_URL, command_timeout=None)
    worker = create_worker(settings, redis)
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await worker.async_run()
    finally:
        await worker.close()


async def worker_is_alive(settings: Settings) -> bool:
    """Whether a worker process of this host has sent a heartbeat lately (container healthchecks)."""
    redis = connect(settings.redis_url or DEFAULT_URL)
    try:
        beats = await redis.zrangebyscore(keys.WORKERS, time.time() - keys.HEARTBEAT_FRESH, "+inf")
    finally:
        await redis.aclose()
    return any(beat.decode().startswith(socket.gethostname() + ":") for beat in beats)


async def serve(settings: Settings) -> None:
    """api and worker together; a private Redis when REDIS_URL is unset; a printed key when none is set."""
    generated_key = None
    if not settings.gateway_keys and not settings.allow_anonymous:
        generated_key = "ig-" + secrets.token_urlsafe(24)
        settings = replace(settings, gateway_keys=(generated_key,))
    async with contextlib.AsyncExitStack() as stack:
        where, in_process = "Redis at REDIS_URL", None
        if not settings.redis_url:
            embedded = await stack.enter_async_context(private_redis())
            where = embedded.description
            if embedded.url:
                settings = replace(settings, redis_url=embedded.url)
            else:
                in_process = embedded.new_client
        worker_redis = (
            in_process() if in_process else connect(settings.redis_url, command_timeout=None)
        )
        worker = create_worker(settings, worker_redis, handle_signals=False)
        worker_task = asyncio.create_task(worker.async_run())
        server = _server(
            create_app(settings, redis=in_process() if in_process else None),
            settings.host,
            settings.port,
        )
        _banner(settings, where, generated_key)
        try:
            await server.serve()
        finally:
            await _stop_worker(worker, worker_task)


async def _stop_worker(worker, task: asyncio.Task) -> None:
    worker.allow_pick_jobs = False
    running = [t for t in worker.tasks.values() if not t.done()]
    if running:
        await asyncio.wait(running, timeout=DRAIN_SECONDS)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await worker.close()


def _banner(settings: Settings, redis_where: str, generated_key: str | None) -> None:
    shown_host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    base = f"http://{shown_host}:{settings.port}"
    models = ", ".join(settings.model_names())
    lines = [
        f"imagegate is running with {redis_where}",
        f"  OpenAI base URL: {base}/v1",
        f"  models:          {models}",
    ]
    if generated_key:
        lines += [
            f"  API key:         {generated_key}   (made for this run: set GATEWAY_API_KEY to choose your own)",
            f"  playground:      {base}/#key={generated_key}",
        ]
    else:
        lines.append(f"  playground:      {base}/")
    print("\n".join(lines), file=sys.stderr, flush=True)
