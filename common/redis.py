"""Redis clients for both processes: short timeouts so an outage is answered fast, and msgpack
instead of arq's default pickle (a job read from Redis must never be able to run code)."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

import msgspec
from arq.connections import ArqRedis
from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.client import PubSub

# arq's job records, on both sides of the queue.
job_serializer = msgspec.msgpack.encode
job_deserializer = msgspec.msgpack.decode

CONNECT_TIMEOUT = 1.0
COMMAND_TIMEOUT = 2.0


def arq_client(pool: ConnectionPool) -> ArqRedis:
    return ArqRedis(pool, job_serializer=job_serializer, job_deserializer=job_deserializer)


def connect(url: str, max_connections: int = 200) -> ArqRedis:
    pool = ConnectionPool.from_url(
        url,
        socket_connect_timeout=CONNECT_TIMEOUT,
        socket_timeout=COMMAND_TIMEOUT,
        socket_keepalive=True,
        health_check_interval=15,
        max_connections=max_connections,
    )
    return arq_client(pool)


@contextlib.asynccontextmanager
async def subscription(redis: Redis, channel: str) -> AsyncIterator[PubSub]:
    """A pub/sub connection subscribed to `channel`, confirmed before it is handed out.

    Closing is bounded: redis-py's PubSub.aclose can wait forever on a lock held by a command
    that a cancellation interrupted, which would hang a process's shutdown.
    """
    pubsub = redis.pubsub()
    try:
        await pubsub.subscribe(channel)
        while (message := await pubsub.get_message(timeout=10)) is None or message["type"] != "subscribe":
            pass
        yield pubsub
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(pubsub.aclose(), 1)
