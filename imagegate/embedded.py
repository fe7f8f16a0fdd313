"""Redis for `imagegate serve` when REDIS_URL is unset: a private redis-server, or, where none is
installed, an in-memory fakeredis server shared by the api and the worker of this process."""

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import NamedTuple

from arq.connections import ArqRedis

from common.store.arq_compat import skip_redis_info
from common.store.redis import arq_client
from imagegate.redis_server import RedisProcess, redis_server_binary

ClientFactory = Callable[[], ArqRedis]


class EmbeddedRedis(NamedTuple):
    description: str
    url: str | None  # a private redis-server's; None for the in-memory one
    new_client: ClientFactory | None = None  # clients of the in-memory one


@contextlib.asynccontextmanager
async def private_redis() -> AsyncIterator[EmbeddedRedis]:
    """A Redis that lives as long as this context."""
    if redis_server_binary():
        server = RedisProcess().start()
        try:
            yield EmbeddedRedis("a private redis-server", server.url)
        finally:
            server.stop()
        return
    import fakeredis

    fake = fakeredis.FakeServer()
    skip_redis_info()  # fakeredis has no INFO, which arq logs at start-up
    yield EmbeddedRedis(
        "an in-memory Redis (redis-server is not installed)",
        None,
        lambda: arq_client(fakeredis.FakeAsyncRedis(server=fake).connection_pool),
    )
