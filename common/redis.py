"""Redis clients for both processes: short timeouts so an outage is answered fast, and msgpack
instead of arq's default pickle (a job read from Redis must never be able to run code)."""

import msgspec
from arq.connections import ArqRedis
from redis.asyncio import ConnectionPool

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
