"""Connection pools whose commands queue for a free connection for as long as Redis answers."""

import asyncio
import contextlib
from typing import Any

import hiredis
from redis.asyncio import ConnectionPool
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.sentinel import SentinelConnectionPool
from redis.exceptions import ConnectionError

# A value longer than this keeps redis-py's packing, which hands it to the socket as it is:
# hiredis copies it into a fresh buffer whose page faults cost 340 µs for 200 KB here.
_LARGE = 6000
_BUFFERS = (bytes, memoryview)


class _HiredisPacking(AbstractConnection):
    """Commands packed by hiredis's C packer, as redis-py's own synchronous client packs them;
    its asyncio client packs in Python, 4–5 µs a command, 70 µs for a job's final MULTI.
    Anything hiredis refuses (a bool, None) goes to redis-py's packer, which raises its
    DataError; the bytes sent are the same either way."""

    def pack_command(self, *args: Any) -> list[bytes]:
        for arg in args:
            if isinstance(arg, _BUFFERS) and len(arg) > _LARGE:
                return super().pack_command(*args)
        name = args[0]
        if " " in name if isinstance(name, str) else b" " in name:  # CLIENT SETNAME, say
            args = (*name.split(), *args[1:])
        try:
            return [hiredis.pack_command(args)]
        except TypeError:
            return super().pack_command(*args)


def _has_unread(connection: AbstractConnection) -> bool:
    stream: Any = connection._reader  # asyncio's StreamReader has no public peek at its buffer
    parser: Any = connection._parser  # hiredis's: redis[hiredis] is our dependency
    return parser._reader.has_data() or stream.at_eof() or bool(stream._buffer)


def _packed_by_hiredis(connection_class: type[AbstractConnection]) -> type[AbstractConnection]:
    return type(connection_class.__name__, (_HiredisPacking, connection_class), {})


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
        options = self.connection_kwargs
        text = (options.get("encoding", "utf-8"), options.get("encoding_errors", "strict"))
        if text == ("utf-8", "strict"):  # how hiredis encodes text
            self.connection_class = _packed_by_hiredis(self.connection_class)
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

    async def ensure_connection(self, connection: AbstractConnection) -> None:
        """A connection handed out is open and has nothing left unread, or it is opened
        anew. redis-py looks for unread bytes with a read under a zero timeout, which costs
        every command a turn of the event loop, a future, a timer and a cancellation (30 µs
        of CPU here); this looks at what the connection has already received, as redis-py 8
        does (redis/redis-py#4063): replies hiredis holds, bytes the stream holds, its end."""
        await connection.connect()
        if _has_unread(connection):
            await connection.disconnect()
            await connection.connect()
            if _has_unread(connection):
                raise ConnectionError("Connection not ready")

    async def release(self, connection: AbstractConnection) -> None:
        if connection.is_connected:
            self._answered_at = asyncio.get_running_loop().time()
        async with self._turns:
            await super().release(connection)
            self._turns.notify()


class QueueingSentinelPool(QueueingPool, SentinelConnectionPool):
    """The same queue in front of the connections to the master the sentinels name (redis-py's
    own Sentinel pool refuses a command at once when all its connections are busy)."""
