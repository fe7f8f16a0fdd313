"""The clients' connection pools: a command waits for a free connection for as long as Redis
answers, and no longer; through Sentinel as without. Their connections pack commands with
hiredis, into the bytes redis-py's own packer makes."""

import asyncio
import os
import signal
import time
from collections.abc import Iterator

import pytest
from redis.asyncio import Redis
from redis.asyncio.connection import Connection
from redis.exceptions import ConnectionError, DataError, TimeoutError

from common.config.load import load_settings
from common.store.redis import connect, connect_to
from common.store.redis_pool import QueueingPool
from imagegate.redis_server import RedisProcess
from tests.servers import SentinelGroup

# Holds Redis for ARGV[1] microseconds: a command that is slow at the server.
BUSY = """
local t = redis.call('TIME')
local start = t[1] * 1000000 + t[2]
repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] - start >= tonumber(ARGV[1])
return 1
"""


async def test_a_queue_longer_than_the_timeout_waits_while_redis_answers(redis_server):
    pool = QueueingPool.from_url(redis_server.url, max_connections=2, timeout=0.3)
    client = Redis(connection_pool=pool)
    try:
        started = time.monotonic()
        # 24 commands of 50 ms, which Redis runs one at a time: the last waits over a second
        # for a connection, past the 0.3 s timeout, while every 50 ms one comes back.
        done = await asyncio.gather(*(client.eval(BUSY, 0, 50_000) for _ in range(24)))
        assert done == [1] * 24
        assert time.monotonic() - started > 1.0
    finally:
        await client.aclose()


@pytest.fixture
def paused_redis() -> Iterator[RedisProcess]:
    """A Redis of the test's own: the test stops it with SIGSTOP (and wakes it after)."""
    with RedisProcess() as server:
        yield server


async def test_a_hung_redis_fails_the_waiting_commands_within_the_timeout(paused_redis):
    pool = QueueingPool.from_url(
        paused_redis.url, max_connections=1, timeout=0.3, socket_timeout=0.3
    )
    client = Redis(connection_pool=pool)
    try:
        await client.ping()
        os.kill(paused_redis._process.pid, signal.SIGSTOP)
        started = time.monotonic()
        outcomes = await asyncio.gather(*(client.ping() for _ in range(6)), return_exceptions=True)
        elapsed = time.monotonic() - started
        assert all(isinstance(outcome, ConnectionError | TimeoutError) for outcome in outcomes)
        assert elapsed < 1.5
    finally:
        os.kill(paused_redis._process.pid, signal.SIGCONT)
        await client.aclose()


@pytest.fixture
def group() -> Iterator[SentinelGroup]:
    with SentinelGroup() as group:
        yield group


async def test_through_sentinel_a_command_past_the_pool_waits_its_turn(group):
    client = connect_to(load_settings({"REDIS_SENTINELS": group.sentinels}))
    pool = client.connection_pool
    held = [await pool.get_connection() for _ in range(pool.max_connections)]
    try:
        ping = asyncio.ensure_future(client.ping())
        await asyncio.sleep(0.3)
        assert not ping.done()  # waiting, not refused
        await pool.release(held.pop())
        assert await asyncio.wait_for(ping, 2) is True
    finally:
        for connection in held:
            await pool.release(connection)
        await client.aclose()


LARGE = os.urandom(200_000)
COMMANDS = [
    ("SET", "imagegate:image:ab12:record", b"\x89\x00\xff", "EX", 1800),
    ("ZADD", "imagegate:image-expiries", 1796302266.9690278, "ab12:196992"),
    ("HINCRBYFLOAT", "imagegate:metrics", "seconds\x1fcafé", 0.001704453000002104),
    ("EVAL", "return 1", 0, -5, 10**20, memoryview(b"a view")[2:]),
    ("CLIENT SETNAME", "imagegate-worker"),
    (b"CONFIG GET", b"maxmemory"),
    ("SET", "imagegate:image:ab12:bytes", LARGE),
]


def pool_connection() -> Connection:
    """A connection as the clients' pools make them (unopened: packing needs no server)."""
    return connect("redis://127.0.0.1:6379/0").connection_pool.make_connection()


@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: str(command[0]))
def test_commands_are_packed_into_the_bytes_redis_py_packs(command):
    ours = pool_connection()
    assert b"".join(ours.pack_command(*command)) == b"".join(Connection().pack_command(*command))


def test_a_large_value_goes_to_the_socket_as_it_is():
    assert any(piece is LARGE for piece in pool_connection().pack_command(*COMMANDS[-1]))


def test_a_value_redis_py_refuses_is_refused_as_it_refuses_it():
    with pytest.raises(DataError, match="'bool'"):
        pool_connection().pack_command("SET", "k", True)


async def test_values_come_back_from_redis_as_they_were_sent(redis_server):
    client = connect(redis_server.url)
    try:
        async with client.pipeline(transaction=True) as pipe:
            pipe.set("packed:large", LARGE).set("packed:text", "café ☕").client_setname("packed")
            pipe.zadd("packed:scores", {"member": 1796302266.9690278})
            assert await pipe.execute() == [True, True, True, 1]
        assert await client.get("packed:large") == LARGE
        assert await client.get("packed:text") == "café ☕".encode()
        assert await client.zscore("packed:scores", "member") == 1796302266.9690278
        assert await client.client_getname() == "packed"
    finally:
        await client.aclose()


async def test_a_connection_left_with_an_unread_reply_is_not_handed_out_as_it_is(redis_server):
    client = connect(redis_server.url, max_connections=1)
    try:
        await client.set("stale:key", "fresh")
        connection = await client.connection_pool.get_connection()
        await connection.send_command("ECHO", "stale")  # its reply is never read
        await asyncio.sleep(0.1)  # the reply arrives and waits in the connection
        await client.connection_pool.release(connection)
        assert await client.get("stale:key") == b"fresh"
    finally:
        await client.aclose()


async def test_a_connection_redis_closed_is_opened_anew(redis_server):
    client = connect(redis_server.url, max_connections=1)
    try:
        name = f"to-be-killed-{os.getpid()}"
        await client.client_setname(name)
        async with Redis.from_url(redis_server.url) as killer:
            [victim] = [c for c in await killer.client_list() if c["name"] == name]
            assert await killer.client_kill_filter(_id=victim["id"]) == 1
        await asyncio.sleep(0.1)  # the pool's idle connection sees its end of stream
        assert await client.ping() is True
    finally:
        await client.aclose()
