"""Running the api, the worker, or both in one process."""

import asyncio
import contextlib
import errno
import functools
import logging
import secrets
import signal
import socket
import sys
import time
from collections.abc import Iterator

import uvicorn
from msgspec.structs import replace

from api.app import create_app
from common.config.types import Settings
from common.store import keys
from common.store.redis import connect_to
from imagegate.embedded import private_redis
from imagegate.http_protocol import bounded_protocol
from worker.settings import create_worker

DRAIN_SECONDS = 30
log = logging.getLogger("imagegate")


class CannotListen(Exception):
    """The address is taken or not ours to bind: said in one line, before anything started."""


class _Server(uvicorn.Server):
    """uvicorn's server with the signals left to us: uvicorn re-raises a SIGTERM it caught once
    it has shut down, which would kill `serve` before its worker drained and its Redis stopped."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class _Stop:
    """SIGINT and SIGTERM alike: the first stops the server gracefully, a second at once."""

    def __init__(self) -> None:
        self.server: uvicorn.Server | None = None
        self.signals = 0
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._received)

    def _received(self) -> None:
        self.signals += 1
        self.apply()

    def apply(self) -> None:
        if self.server is not None and self.signals:
            self.server.should_exit = True
            self.server.force_exit = self.signals > 1


def listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound before any banner, key or Redis."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        why = (
            "the port is already in use (another imagegate?); choose another with --port or PORT"
            if exc.errno == errno.EADDRINUSE
            else exc.strerror or type(exc).__name__
        )
        raise CannotListen(f"imagegate cannot listen on {host}:{port}: {why}") from None
    return sock


def _server(app, settings: Settings) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        # Forwarded headers are a client's word unless a trusted proxy sets them: uvicorn's own
        # handling (on by default for 127.0.0.1) is off unless TRUST_PROXY_HEADERS is.
        proxy_headers=settings.trust_proxy_headers,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        loop="uvloop",
        # httptools, with header size and time bounded, and the body of an answered request
        http=bounded_protocol(settings.header_timeout, settings.request_body_timeout),
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
    return _Server(config)


async def run_api(settings: Settings) -> int:
    sock = listen(settings.host, settings.port)
    stop = _Stop()
    stop.server = _server(create_app(settings), settings)
    stop.apply()
    await stop.server.serve(sockets=[sock])
    return 0


async def run_worker(settings: Settings) -> int:
    redis = connect_to(settings, command_timeout=None)
    worker = create_worker(settings, redis, bulk_reads=True)
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await worker.async_run()
    finally:
        await worker.close()
    return 0


async def worker_is_alive(settings: Settings) -> bool:
    """Whether a worker process of this host has sent a heartbeat lately (container healthchecks)."""
    redis = connect_to(settings)
    try:
        beats = await redis.zrangebyscore(keys.WORKERS, time.time() - keys.HEARTBEAT_FRESH, "+inf")
    finally:
        await redis.aclose()
    return any(beat.decode().startswith(socket.gethostname() + ":") for beat in beats)


async def serve(settings: Settings) -> int:
    """api and worker together; a private Redis when REDIS_URL is unset; a printed key when none
    is set. Signals stop it gracefully from the start; the banner waits for the server."""
    sock = listen(settings.host, settings.port)
    stop = _Stop()
    generated_key = None
    if not settings.gateway_keys and not settings.allow_anonymous:
        generated_key = "ig-" + secrets.token_urlsafe(24)
        settings = replace(settings, gateway_keys=(generated_key,))
    async with contextlib.AsyncExitStack() as stack:
        where, in_process = "Redis at REDIS_URL", None
        if not settings.redis_url and settings.sentinel is None:
            embedded = await stack.enter_async_context(private_redis())
            where = embedded.description
            if embedded.url:
                settings = replace(settings, redis_url=embedded.url)
            else:
                in_process = embedded.new_client
        worker_redis = in_process() if in_process else connect_to(settings, command_timeout=None)
        worker = create_worker(
            settings, worker_redis, handle_signals=False, bulk_reads=in_process is None
        )
        worker_task = asyncio.create_task(worker.async_run())
        app = create_app(settings, redis=in_process() if in_process else None)
        stop.server = _server(app, settings)
        stop.apply()
        worker_task.add_done_callback(functools.partial(_worker_ended, stop.server))
        server_task = asyncio.create_task(stop.server.serve(sockets=[sock]))
        try:
            while not stop.server.started and not server_task.done():
                await asyncio.sleep(0.01)
            if stop.server.started and not stop.server.should_exit:
                _banner(settings, where, generated_key)
            await server_task
        finally:
            await _stop_worker(worker, worker_task)
    return 1 if worker_task.done() and not worker_task.cancelled() else 0


def _worker_ended(server: uvicorn.Server, task: asyncio.Task) -> None:
    """The in-process worker never dies silently: if it ends, serve stops, saying why."""
    if task.cancelled():
        return
    error = task.exception()
    log.error(
        "the worker stopped (%s); imagegate serve stops too",
        type(error).__name__ if error else "it returned",
    )
    server.should_exit = True


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
