"""The Redis image store: bytes and record kept together, read back whole, through redis-py
and through the bulk reader alike."""

import pytest

from common.store import keys
from common.store.bulk_reader import BulkReader
from common.store.images import RedisImageStore, encode_meta
from worker.render.png import solid_png
from worker.upstream.sniff import sniff

PNG = solid_png(48, 32, (200, 10, 10))


@pytest.fixture(params=["redis-py", "bulk reader"])
async def store(request, redis):
    reader = BulkReader(redis.connection_pool) if request.param == "bulk reader" else None
    store = RedisImageStore(redis, 60, reader)
    yield store
    await store.close()


async def test_an_image_reads_back_whole_and_expires_with_its_record(redis, store):
    meta = await store.put(PNG, sniff(PNG))
    cached = await store.get(meta.id)
    assert bytes(cached.data) == PNG and cached.meta == meta and 55 < cached.ttl_seconds <= 60
    record, data = keys.image_record(meta.id), keys.image_bytes(meta.id)
    assert abs(await redis.pttl(record) - await redis.pttl(data)) < 50


async def test_an_image_stored_by_an_earlier_version_is_still_served(redis, store):
    """Images kept as one hash before an upgrade stay readable until they expire."""
    meta = store.describe(sniff(PNG), len(PNG))
    await redis.hset(keys.image(meta.id), mapping={"meta": encode_meta(meta), "data": PNG})
    assert bytes((await store.get(meta.id)).data) == PNG


async def test_an_unknown_image_is_none(store):
    assert await store.get("0" * 32) is None
