"""Redis for `imagegate serve` when REDIS_URL is unset: a private redis-server, or, where none is
installed, an in-memory fakeredis server shared by the api and the worker of this process."""

import contextlib
from collections.abc import AsyncIterator, Callable

import arq.worker
from arq.connections import ArqRedis

from common.redis import arq_client, connect
from common.redis_server import RedisProcess, redis_server_binary

ClientFactory = Callable[[], ArqRedis]


@contextlib.asynccontextmanager
async def private_redis() -> AsyncIterator[tuple[str, ClientFactory]]:
    """(description, factory of clients) for a Redis that lives as long as this context."""
    if redis_server_binary():
        server = RedisProcess().start()
        try:
            yield "a private redis-server", lambda: connect(server.url)
        finally:
            server.stop()
        return
    import fakeredis

    fake = fakeredis.FakeServer()
    # fakeredis has no INFO, which arq logs at start-up.
    arq.worker.log_redis_info = _no_redis_info
    yield "an in-memory Redis (redis-server is not installed)", lambda: arq_client(
        fakeredis.FakeAsyncRedis(server=fake).connection_pool
    )


async def _no_redis_info(*_: object) -> None:
    return None
