"""The S3 image store against moto's S3 server: bytes in the bucket, the record in Redis."""

import math
import time

import httpx
import pytest

from common.config.types import S3Spec
from common.errors import StorageUnavailable
from common.store import keys
from common.store.s3 import S3ImageStore, check_bucket
from worker.render.png import solid_png
from worker.upstream.sniff import sniff

PNG = solid_png(48, 32, (200, 10, 10))


def spec(s3_server, bucket: str, **fields) -> S3Spec:
    return S3Spec(
        bucket=bucket,
        endpoint_url=s3_server.url,
        region="us-east-1",
        access_key_id="test",
        secret_access_key="test",
        **fields,
    )


@pytest.fixture
def bucket(s3_server) -> str:
    return s3_server.create_bucket()


async def test_the_bytes_go_to_the_bucket_and_redis_keeps_only_the_record(redis, s3_server, bucket):
    store = S3ImageStore(redis, 60, spec(s3_server, bucket))
    meta = await store.put(PNG, sniff(PNG))
    assert s3_server.objects(bucket) == [f"imagegate/{meta.id}.png"] == [meta.key]
    assert await redis.hkeys(keys.image(meta.id)) == [b"meta"]
    assert 55 < await redis.ttl(keys.image(meta.id)) <= 60
    cached = await store.get(meta.id)
    assert bytes(cached.data) == PNG and (cached.meta.width, cached.meta.height) == (48, 32)
    opened = await store.open(meta.id)
    assert opened.meta.size == len(PNG) and 55 < opened.ttl_seconds <= 60
    assert b"".join([chunk async for chunk in opened.chunks]) == PNG
    assert await store.cached_bytes() == len(PNG)


async def test_an_object_deleted_behind_our_back_is_gone_not_an_error(redis, s3_server, bucket):
    store = S3ImageStore(redis, 60, spec(s3_server, bucket))
    meta = await store.put(PNG, sniff(PNG))
    s3_server.delete(bucket, meta.key)
    assert await store.open(meta.id) is None
    assert await store.get(meta.id) is None


async def test_a_failing_bucket_fails_the_upload_and_leaves_no_record(redis, s3_server):
    store = S3ImageStore(redis, 60, spec(s3_server, "no-such-bucket"))
    with pytest.raises(StorageUnavailable) as caught:
        await store.put(PNG, sniff(PNG))
    assert caught.value.info().code == "storage_unavailable" and caught.value.status == 502
    assert await redis.keys(keys.image("*")) == []


async def test_the_sweep_deletes_the_objects_of_expired_records_only(redis, s3_server, bucket):
    store = S3ImageStore(redis, 60, spec(s3_server, bucket))
    kept = await store.put(PNG, sniff(PNG))
    expired = await store.put(PNG, sniff(PNG))
    # An upload whose record was never written (its worker died) is indexed all the same.
    orphan = store.describe(sniff(PNG), len(PNG))
    await store.upload([(orphan, PNG)])
    for meta in (expired, orphan):
        await redis.zadd(keys.S3_SWEEP, {meta.key: time.time() - 1})
    assert await store.sweep() == 2
    assert s3_server.objects(bucket) == [kept.key]
    assert await store.sweep() == 0


async def test_expiration_zero_keeps_the_image_for_good(redis, s3_server, bucket):
    store = S3ImageStore(redis, 0, spec(s3_server, bucket))
    meta = await store.put(PNG, sniff(PNG))
    assert math.isinf(meta.expires) and await redis.ttl(keys.image(meta.id)) == -1
    assert await redis.zcard(keys.S3_SWEEP) == 0
    assert (await store.open(meta.id)).ttl_seconds == 365 * 24 * 3600


async def test_presign_redirects_to_a_url_that_serves_the_object(redis, s3_server, bucket):
    store = S3ImageStore(redis, 60, spec(s3_server, bucket, presign=True))
    meta = await store.put(PNG, sniff(PNG))
    opened = await store.open(meta.id)
    assert opened.redirect.startswith(f"{s3_server.url}/{bucket}/imagegate/{meta.id}.png?")
    assert httpx.get(opened.redirect).content == PNG


def test_public_base_url_gives_each_image_a_direct_link(redis, s3_server, bucket):
    cdn = "https://cdn.example/img"
    store = S3ImageStore(redis, 60, spec(s3_server, bucket, public_base_url=cdn, prefix="p/"))
    meta = store.describe(sniff(PNG), len(PNG))
    assert meta.link == f"{cdn}/p/{meta.id}.png" and meta.key == f"p/{meta.id}.png"


async def test_a_missing_bucket_or_refused_credentials_is_a_start_up_problem(s3_server, bucket):
    assert await check_bucket(spec(s3_server, bucket)) == []
    [missing] = await check_bucket(spec(s3_server, "absent-bucket"))
    assert "S3_BUCKET 'absent-bucket'" in missing and "does not exist" in missing
    unreachable = S3Spec(
        bucket=bucket,
        endpoint_url="http://127.0.0.1:9",
        region="us-east-1",
        access_key_id="test",
        secret_access_key="test",
    )
    [problem] = await check_bucket(unreachable)
    assert "cannot be reached" in problem and "test" not in problem
