"""The bulk reader against a real redis-server: big values, nils, errors, auth, outages."""

import asyncio
import os

import pytest
import redis as sync_redis
from redis.exceptions import ConnectionError, ResponseError

from common.store.bulk_reader import BulkReader
from imagegate.redis_server import RedisProcess

pytestmark = pytest.mark.asyncio


@pytest.fixture
def server(redis_server):
    redis_server.flush()
    return redis_server


async def test_big_values_small_values_and_nils(server):
    client = sync_redis.Redis(port=server.port)
    big = os.urandom(3 * 1024 * 1024 + 7)
    client.set("big", big)
    client.hset("image", mapping={"meta": b"\x81\xa1a\x01", "data": big})
    reader = BulkReader(server.url)
    assert bytes(await reader.execute("GET", "big")) == big
    meta, data = await reader.execute("HMGET", "image", "meta", "data")
    assert bytes(meta) == b"\x81\xa1a\x01" and bytes(data) == big
    assert await reader.execute("GET", "missing") is None
    assert await reader.execute("HMGET", "missing", "meta", "data") == [None, None]
    assert await reader.execute("PING") == "PONG" and await reader.execute("DBSIZE") == 2
    await reader.close()


async def test_an_error_reply_raises_and_the_connection_stays_usable(server):
    sync_redis.Redis(port=server.port).set("text", "x")
    reader = BulkReader(server.url, size=1)
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await reader.execute("HMGET", "text", "data")
    assert bytes(await reader.execute("GET", "text")) == b"x"
    await reader.close()


async def test_concurrent_requests_share_a_small_pool(server):
    client = sync_redis.Redis(port=server.port)
    values = {f"key-{n}": os.urandom(50_000 + n) for n in range(40)}
    client.mset(values)
    reader = BulkReader(server.url, size=3)
    replies = await asyncio.gather(*(reader.execute("GET", key) for key in values))
    assert [bytes(reply) for reply in replies] == list(values.values())
    await reader.close()


async def test_the_url_password_and_database_are_used():
    with RedisProcess() as server:
        client = sync_redis.Redis(port=server.port)
        client.config_set("requirepass", "s3cret")
        sync_redis.Redis(port=server.port, password="s3cret", db=3).set("here", "db3")
        reader = BulkReader(f"redis://:s3cret@127.0.0.1:{server.port}/3")
        assert bytes(await reader.execute("GET", "here")) == b"db3"
        await reader.close()
        with pytest.raises(ConnectionError):
            await BulkReader(f"redis://:wrong@127.0.0.1:{server.port}/3").execute("GET", "here")


async def test_an_outage_is_a_connection_error_and_then_it_reconnects():
    server = RedisProcess().start()
    try:
        sync_redis.Redis(port=server.port).set("k", "v")
        reader = BulkReader(server.url)
        assert bytes(await reader.execute("GET", "k")) == b"v"
        server.kill()
        with pytest.raises(ConnectionError):
            await reader.execute("GET", "k")
        server.start()
        sync_redis.Redis(port=server.port).set("k", "back")
        assert bytes(await reader.execute("GET", "k")) == b"back"
        await reader.close()
    finally:
        server.stop()
