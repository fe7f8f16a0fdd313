"""Connection pools whose commands queue for a free connection for as long as Redis answers."""

import asyncio
import contextlib
from typing import Any

from redis.asyncio import ConnectionPool
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.sentinel import SentinelConnectionPool
from redis.exceptions import ConnectionError


class QueueingPool(ConnectionPool):
    """A pool whose commands wait their turn while every connection is busy, and give up only
    when Redis has stopped answering: no connection has come back open for `timeout` seconds.

    redis-py's BlockingConnectionPool gives up after a fixed wait, and that told a burst that
    Redis was unavailable while it answered well: 1,000 streams at once on a busy 2-core api
    queued past two seconds behind their own event loop, and up to a fifth were answered 503.
    A hung Redis still fails a waiting command within `timeout`: its connections time out
    and come back closed, which does not count as an answer.
    """

    def __init__(self, *args: Any, timeout: float = 2.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.timeout = timeout
        self._turns = asyncio.Condition()
        self._answered_at = 0.0

    async def get_connection(self, *_: Any, **__: Any) -> AbstractConnection:
        loop = asyncio.get_running_loop()
        since = loop.time()
        async with self._turns:
            while not self.can_get_connection():
                left = max(since, self._answered_at) + self.timeout - loop.time()
                if left <= 0:
                    raise ConnectionError("No connection available.")
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(left):
                        await self._turns.wait()
            connection = self.get_available_connection()
        try:
            await self.ensure_connection(connection)
        except BaseException:
            await self.release(connection)
            raise
        return connection

    async def release(self, connection: AbstractConnection) -> None:
        if connection.is_connected:
            self._answered_at = asyncio.get_running_loop().time()
        async with self._turns:
            await super().release(connection)
            self._turns.notify()


class QueueingSentinelPool(QueueingPool, SentinelConnectionPool):
    """The same queue in front of the connections to the master the sentinels name (redis-py's
    own Sentinel pool refuses a command at once when all its connections are busy)."""
