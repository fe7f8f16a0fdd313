"""The bulk reader through Sentinel: it reads the master the sentinels name (with both
passwords), refuses a node that is not the master, and follows a failover."""

import asyncio
import os
import time
from collections.abc import Iterator

import pytest
import redis as sync_redis
from redis.asyncio.sentinel import SentinelConnectionPool
from redis.exceptions import ConnectionError

from common.config.load import load_settings
from common.store.bulk_reader import BulkReader
from common.store.redis import connect_to
from imagegate.redis_server import RedisProcess
from tests.servers import SentinelGroup

pytestmark = pytest.mark.asyncio


async def port_of(reader: BulkReader) -> int:
    """The port of the node that answers the reader."""
    _, port = await reader.execute("CONFIG", "GET", "port")
    return int(bytes(port))


class NamedMaster:
    """In place of the sentinels (redis-py's discover_master): names the node a test says."""

    def __init__(self, port: int) -> None:
        self.port = port

    async def discover_master(self, service_name: str) -> tuple[str, int]:
        return "127.0.0.1", self.port


@pytest.fixture
def group() -> Iterator[SentinelGroup]:
    with SentinelGroup(password="redis-secret", sentinel_password="sentinel-secret") as group:
        yield group


def clients_of(group: SentinelGroup):
    """The api's client of the settings naming `group`, and its image reader."""
    settings = load_settings(
        {
            "REDIS_SENTINELS": group.sentinels,
            "REDIS_PASSWORD": group.password or "",
            "REDIS_SENTINEL_PASSWORD": group.sentinel_password or "",
        }
    )
    client = connect_to(settings)
    return client, BulkReader(client.connection_pool)


async def test_reads_go_to_the_master_the_sentinels_name(group):
    client, reader = clients_of(group)
    big = os.urandom(2 * 1024 * 1024)
    await client.hset("image", mapping={"meta": b"m", "data": big})
    meta, data = await reader.execute("HMGET", "image", "meta", "data")
    assert bytes(meta) == b"m" and bytes(data) == big
    assert await port_of(reader) == group.ports[0]
    assert group.reader_connections(group.ports[0]) and not group.reader_connections(group.ports[1])
    await reader.close()
    await client.aclose()


async def test_reads_follow_a_failover_before_the_old_master_is_demoted(group):
    client, reader = clients_of(group)
    old = group.ports[0]
    assert await port_of(reader) == old
    new = group.failover()
    sync_redis.Redis(port=new, password=group.password).set("written", "after the failover")
    deadline = time.monotonic() + 10
    while (answered_by := await port_of(reader)) == old and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert answered_by == new
    # The old master still answers as one, with data that no longer grows: the reader left
    # it because the sentinels name another, not because its connections were closed.
    assert group.ask(old, "ROLE").split()[0] == "master"
    assert bytes(await reader.execute("GET", "written")) == b"after the failover"
    assert not group.reader_connections(old)
    await reader.close()
    await client.aclose()


async def test_a_node_that_is_not_the_master_is_refused_and_the_next_connection_asks_again():
    with RedisProcess() as master, RedisProcess() as replica:
        sync_redis.Redis(port=replica.port).replicaof("127.0.0.1", master.port)
        sentinels = NamedMaster(replica.port)  # not reconfigured yet, say
        reader = BulkReader(SentinelConnectionPool("mymaster", sentinels))
        with pytest.raises(ConnectionError) as refused:
            await reader.execute("GET", "k")
        assert "is a slave, not the master" in str(refused.value.__cause__)
        sentinels.port = master.port
        assert await port_of(reader) == master.port
        await reader.close()


async def test_a_master_demoted_under_a_connection_fails_once_with_readonly():
    # `first` ends up a replica: it stops first, so `second` need not wait for it at shutdown.
    with RedisProcess() as second, RedisProcess() as first:
        sentinels = NamedMaster(first.port)
        reader = BulkReader(SentinelConnectionPool("mymaster", sentinels))
        assert await port_of(reader) == first.port
        sync_redis.Redis(port=first.port).replicaof("127.0.0.1", second.port)
        with pytest.raises(ConnectionError, match="read-only"):
            await reader.execute("SET", "k", "v")
        sentinels.port = second.port
        assert await reader.execute("SET", "k", "v") == "OK"
        assert await port_of(reader) == second.port
        await reader.close()
