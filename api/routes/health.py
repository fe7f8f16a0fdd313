"""GET /health and /v1/health: ready when Redis answers and a worker's heartbeat is fresh."""

import time

import msgspec
from arq.connections import ArqRedis
from litestar import Response, get
from litestar.di import NamedDependency
from redis.exceptions import RedisError

from common.store import keys


class Health(msgspec.Struct):
    status: str
    redis: str
    workers: int
    queue_depth: int


@get(["/health", "/v1/health"])
async def health(redis: NamedDependency[ArqRedis]) -> Response[Health]:
    try:
        async with redis.pipeline(transaction=False) as pipe:
            pipe.zcount(keys.WORKERS, time.time() - keys.HEARTBEAT_FRESH, "+inf")
            pipe.zcard(redis.default_queue_name)
            workers, depth = await pipe.execute()
    except (RedisError, OSError):
        return Response(
            Health("unavailable", "unreachable", 0, 0),
            status_code=503,
            headers={"Retry-After": "5"},
        )
    if workers == 0:
        return Response(
            Health("no_workers", "ok", 0, depth), status_code=503, headers={"Retry-After": "5"}
        )
    return Response(Health("ok", "ok", workers, depth))
