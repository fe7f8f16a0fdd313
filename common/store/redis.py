"""Redis clients for both processes: short timeouts so an outage is answered fast, and msgpack
instead of arq's default pickle (a job read from Redis must never be able to run code)."""

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar, cast

import msgspec
from arq.connections import ArqRedis
from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.client import Pipeline, PubSub
from redis.asyncio.sentinel import Sentinel
from redis.exceptions import RedisError

from common.config.types import Settings
from common.store.redis_pool import QueueingPool, QueueingSentinelPool

log = logging.getLogger("imagegate.redis")

T = TypeVar("T")
Scalar = str | bytes | int | float

# arq's job records, on both sides of the queue.
job_serializer = msgspec.msgpack.encode
job_deserializer = msgspec.msgpack.decode

# Where Redis is when REDIS_URL is unset (`imagegate serve` starts a private one instead).
DEFAULT_URL = "redis://127.0.0.1:6379/0"
CONNECT_TIMEOUT = 1.0
COMMAND_TIMEOUT = 2.0
# A peer that vanished without closing the connection is found by TCP keepalive in ~25 s.
_TCP_KEEPALIVE: dict[str, Any] = {
    "socket_keepalive": True,
    "socket_keepalive_options": {
        option: value
        for name, value in (("TCP_KEEPIDLE", 10), ("TCP_KEEPINTVL", 5), ("TCP_KEEPCNT", 3))
        if (option := getattr(socket, name, None)) is not None
    },
}


def arq_client(pool: ConnectionPool) -> ArqRedis:
    return ArqRedis(pool, job_serializer=job_serializer, job_deserializer=job_deserializer)


def connect(
    url: str, *, command_timeout: float | None = COMMAND_TIMEOUT, max_connections: int = 64
) -> ArqRedis:
    """A client whose requests wait for a free connection rather than fail when all are busy
    (for as long as Redis answers: QueueingPool).

    `command_timeout` bounds each command (the api answers 503 within two seconds when Redis
    hangs). None drops it (the worker): redis-py arms a timer around every reply otherwise,
    which costs more than the command on a busy worker; keepalive still finds a dead peer.
    A unix:// URL takes no keepalive (redis-py refuses it there): a local peer that dies
    closes the socket.
    """
    keepalive = {} if url.startswith("unix:") else _TCP_KEEPALIVE
    pool = QueueingPool.from_url(
        url,
        socket_connect_timeout=CONNECT_TIMEOUT,
        socket_timeout=command_timeout,
        **keepalive,
        health_check_interval=15,
        max_connections=max_connections,
        timeout=COMMAND_TIMEOUT,  # the longest a request waits while no connection comes back
    )
    return arq_client(pool)


def connect_to(settings: Settings, *, command_timeout: float | None = COMMAND_TIMEOUT) -> ArqRedis:
    """A client of the Redis the settings name: REDIS_URL, or the master the sentinels of
    REDIS_SENTINELS point to. Through Sentinel each new connection asks for the master, and a
    connection that fails is dropped, so clients follow a failover without a restart."""
    spec = settings.sentinel
    if spec is None:
        return connect(settings.redis_url or DEFAULT_URL, command_timeout=command_timeout)
    options: dict[str, Any] = {
        "socket_connect_timeout": CONNECT_TIMEOUT,
        "socket_timeout": command_timeout,
        **_TCP_KEEPALIVE,  # the master's address is a host and port
        "health_check_interval": 15,
        "password": settings.redis_password,
        "db": spec.db,
    }
    manager = Sentinel(
        list(spec.sentinels),
        sentinel_kwargs={
            "password": spec.password,
            "socket_connect_timeout": CONNECT_TIMEOUT,
            "socket_timeout": COMMAND_TIMEOUT,
        },
        **options,
    )
    pool = QueueingSentinelPool(
        spec.master, manager, max_connections=64, timeout=COMMAND_TIMEOUT, **options
    )
    return arq_client(pool)


def reply(value: Awaitable[T] | T) -> Awaitable[T]:
    """A command's reply to await: redis-py types every asyncio command `Awaitable[T] | T`
    (one class serves its sync and async clients); on an asyncio client it is the awaitable."""
    return cast(Awaitable[T], value)


# Values larger than this stay out of Lua scripts: a Lua string of 4 MB (a script's argument,
# or a GET inside one) costs Redis about 6 ms, where SET takes 7 µs and GET 0.3 ms.
LUA_MAX_VALUE = 64 * 1024


async def run_script(redis: Redis, script: str, keys: Sequence[str], *args: Scalar) -> Any:
    """EVAL `script` over `keys` with `args`: redis-py's stubs want every argument a str,
    Redis takes numbers and bytes too."""
    evaluate = cast(Callable[..., Awaitable[Any]], redis.eval)
    return await evaluate(script, len(keys), *keys, *args)


def queue_script(pipe: Pipeline, script: str, keys: Sequence[str], *args: Scalar) -> None:
    """EVAL `script` when `pipe` executes (run_script's typing, for a pipeline)."""
    evaluate = cast(Callable[..., object], pipe.eval)
    evaluate(script, len(keys), *keys, *args)


@contextlib.asynccontextmanager
async def subscription(redis: Redis, *channels: str) -> AsyncIterator[PubSub]:
    """A pub/sub connection subscribed to `channels`, confirmed before it is handed out.

    Closing is bounded: redis-py's PubSub.aclose can wait forever on a lock held by a command
    that a cancellation interrupted, which would hang a process's shutdown.
    """
    pubsub = redis.pubsub()
    try:
        await pubsub.subscribe(*channels)
        confirmed = 0
        while confirmed < len(channels):
            message = await pubsub.get_message(timeout=10)
            confirmed += message is not None and message["type"] == "subscribe"
        yield pubsub
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(pubsub.aclose(), 1)


async def wait_until_reachable(redis: Redis, who: str) -> None:
    """Return once Redis answers PING, retrying with backoff; the wait is logged once, not once
    an attempt, and never as a traceback (a process may well start before its Redis)."""
    delay, warned = 0.25, False
    while True:
        try:
            await redis.ping()
        except (RedisError, OSError) as exc:
            if not warned:
                log.warning(
                    "Redis is not answering (%s); %s keeps trying and starts when it does",
                    type(exc).__name__,
                    who,
                )
                warned = True
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
        else:
            if warned:
                log.info("Redis answers; %s goes on", who)
            return
