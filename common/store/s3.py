"""Image bytes in an S3-compatible bucket (AWS S3, R2, MinIO, Ceph) through obstore; Redis
keeps each image's small record, and an index the workers' sweep deletes expired objects by.

obstore was measured against aiobotocore on moto's server (bench/s3_clients.py, BENCHMARKS.md):
a third of the CPU per upload, two thirds per streamed download.
"""

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import AsyncGenerator
from datetime import timedelta
from typing import TYPE_CHECKING

from msgspec.structs import replace
from obstore import sign_async
from obstore.exceptions import BaseError, NotFoundError
from obstore.store import S3Store
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from common.config.types import S3Spec
from common.errors import StorageUnavailable
from common.schemas import ImageInfo, StoredImage
from common.store import keys
from common.store.images import (
    CachedImage,
    OpenedImage,
    Staged,
    counted_bytes,
    decode_meta,
    describe,
    encode_meta,
    remaining,
    stage_accounting,
)
from common.store.redis import reply

if TYPE_CHECKING:  # a type of the stubs only
    from obstore.store import S3Config

log = logging.getLogger("imagegate.store")

PRESIGN_SECONDS = 900
SWEEP_BATCH = 1000  # keys per DeleteObjects call (the S3 limit)
CHUNK = 256 * 1024
FAILED = "the image store (S3 bucket) is unavailable"
# obstore raises its own classes or, through its Python wrapper, the builtin ones.
GONE = (NotFoundError, FileNotFoundError)
BROKEN = (BaseError, OSError)
_REFUSED = ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403")


def bucket(spec: S3Spec) -> S3Store:
    config: S3Config = {}
    if spec.endpoint_url:
        config["endpoint"] = spec.endpoint_url
    if spec.region:
        config["region"] = spec.region
    if spec.access_key_id and spec.secret_access_key:
        config["access_key_id"] = spec.access_key_id
        config["secret_access_key"] = spec.secret_access_key
    return S3Store(
        spec.bucket,
        config=config,
        client_options={
            "allow_http": True,  # a MinIO on the private network; the URL says which
            "connect_timeout": timedelta(seconds=2),
            "timeout": timedelta(seconds=30),
        },
        retry_config={"max_retries": 2, "retry_timeout": timedelta(seconds=10)},
    )


async def check_bucket(spec: S3Spec) -> list[str]:
    """Problems a process should not start with: a bucket that does not exist, or refuses
    the credentials (listing one key under the prefix needs both)."""
    where = f"S3_BUCKET {spec.bucket!r}" + (
        f" at S3_ENDPOINT_URL {spec.endpoint_url!r}" if spec.endpoint_url else ""
    )
    try:
        await bucket(spec).list_with_delimiter_async(spec.prefix)
    except BROKEN as exc:
        text = str(exc)
        if isinstance(exc, GONE) or "NoSuchBucket" in text:
            return [f"{where} does not exist"]
        if any(code in text for code in _REFUSED) or isinstance(exc, PermissionError):
            return [f"{where} refuses the credentials (S3_ACCESS_KEY_ID or the AWS chain's)"]
        return [f"{where} cannot be reached or used ({type(exc).__name__})"]
    return []


class S3ImageStore:
    def __init__(self, redis: Redis, ttl_seconds: int, spec: S3Spec) -> None:
        self._redis = redis
        self._spec = spec
        self._bucket = bucket(spec)
        self.ttl_seconds = ttl_seconds

    def describe(self, info: ImageInfo, size: int = 0) -> StoredImage:
        meta = describe(info, size, self.ttl_seconds)
        key = f"{self._spec.prefix}{meta.id}.{meta.extension}"
        base = self._spec.public_base_url
        return replace(meta, key=key, link=f"{base}/{key}" if base else "")

    async def upload(self, images: Staged) -> None:
        """Index the objects for the sweep, then upload them; the records come after."""
        swept = {meta.key: meta.expires for meta, _ in images if not math.isinf(meta.expires)}
        if swept:
            await self._redis.zadd(keys.S3_SWEEP, swept)
        try:
            await asyncio.gather(
                *(
                    self._bucket.put_async(
                        meta.key, data, attributes={"Content-Type": meta.content_type}
                    )
                    for meta, data in images
                )
            )
        except BROKEN as exc:
            log.warning("upload to the bucket failed", extra={"error": type(exc).__name__})
            raise StorageUnavailable(f"{FAILED}; the image could not be stored") from None

    def stage(self, pipe: Pipeline, meta: StoredImage, data: bytes) -> None:
        key = keys.image(meta.id)
        pipe.hset(key, mapping={"meta": encode_meta(meta)})
        if not math.isinf(meta.expires):
            pipe.pexpireat(key, int(meta.expires * 1000))
        stage_accounting(pipe, meta, len(data))

    async def put(self, data: bytes, info: ImageInfo) -> StoredImage:
        meta = self.describe(info, len(data))
        await self.upload([(meta, data)])
        async with self._redis.pipeline(transaction=True) as pipe:
            self.stage(pipe, meta, data)
            await pipe.execute()
        return meta

    async def _record(self, image_id: str) -> StoredImage | None:
        raw: bytes | None = await reply(self._redis.hget(keys.image(image_id), "meta"))  # type: ignore[arg-type]
        return decode_meta(raw) if raw is not None else None

    async def get(self, image_id: str) -> CachedImage | None:
        meta = await self._record(image_id)
        if meta is None:
            return None
        try:
            data = await (await self._bucket.get_async(meta.key)).bytes_async()
        except GONE:  # deleted behind our back
            return None
        except BROKEN:
            raise StorageUnavailable(f"{FAILED}; try again shortly") from None
        return CachedImage(meta, memoryview(data), remaining(meta))

    async def open(self, image_id: str) -> OpenedImage | None:
        meta = await self._record(image_id)
        if meta is None:
            return None
        if self._spec.presign:
            url = await sign_async(
                self._bucket, "GET", meta.key, timedelta(seconds=PRESIGN_SECONDS)
            )
            return OpenedImage(meta, remaining(meta), redirect=url)
        try:
            answer = await self._bucket.get_async(meta.key)
        except GONE:
            return None
        except BROKEN:
            raise StorageUnavailable(f"{FAILED}; try again shortly") from None
        size = answer.meta["size"]
        return OpenedImage(replace(meta, size=size), remaining(meta), chunks=_chunks(answer))

    async def cached_bytes(self) -> int:
        return await counted_bytes(self._redis)

    async def sweep(self, lock_seconds: int = 60) -> int:
        """Delete the objects whose records expired; one worker at a time. Returns how many."""
        if not await self._redis.set(keys.S3_SWEEP_LOCK, "1", nx=True, ex=lock_seconds):
            return 0
        deleted = 0
        try:
            while due := await self._redis.zrangebyscore(
                keys.S3_SWEEP, "-inf", time.time(), start=0, num=SWEEP_BATCH
            ):
                names = [name.decode() if isinstance(name, bytes) else name for name in due]
                await self._bucket.delete_async(names)
                await self._redis.zrem(keys.S3_SWEEP, *due)
                deleted += len(due)
        finally:
            await self._redis.delete(keys.S3_SWEEP_LOCK)
        return deleted

    async def close(self) -> None:
        """obstore's client needs no closing."""


async def _chunks(answer) -> AsyncGenerator[bytes, None]:
    """The object's bytes as they arrive; a bucket failing mid-way cuts the response short
    (its Content-Length then tells the client)."""
    with contextlib.suppress(*BROKEN):
        async for chunk in answer.stream(min_chunk_size=CHUNK):
            yield bytes(chunk)
