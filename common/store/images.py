"""The image store: each image under a random 128-bit id, its record in Redis for a TTL, its
bytes in Redis (`RedisImageStore`, here) or in a bucket (`S3ImageStore`, common/store/s3.py).

Both sides use one interface, `ImageStore`: the worker describes each image, uploads the bytes
that live outside Redis, then stages the records in its final transaction (so a record never
points at bytes that are not there); the api gets an image whole, or opens it to serve.
"""

import math
import secrets
import time
from collections.abc import AsyncGenerator, Iterable, Sequence
from typing import NamedTuple, Protocol, runtime_checkable

import msgspec
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from common.config.types import Settings
from common.schemas import ImageInfo, StoredImage
from common.store import keys
from common.store.bulk_reader import BulkReader
from common.store.redis import queue_script, reply, run_script

# Drop expired entries from the expiry index and their bytes from the total; return the total.
_CACHED_BYTES = """
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local freed = 0
for _, entry in ipairs(expired) do
  freed = freed + tonumber(string.match(entry, ':(%d+)$'))
end
if #expired > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
  return redis.call('DECRBY', KEYS[2], freed)
end
return tonumber(redis.call('GET', KEYS[2]) or '0')
"""

# Stored images are counted for this many seconds after the second they were stored in, so
# the api's memory sample (taken once a second) sees them before admission stops counting them.
STORED_HOLD = 2
RECORD_BYTES = 1024  # an image's record in Redis when a bucket holds its bytes


def in_flight_member(
    job_id: str, n: int, width: int | None, height: int | None, in_redis: bool = True
) -> str:
    """The job's entry among the images in flight: its id and the bytes its images may take
    in Redis (raw RGB of the size asked for, 1024x1024 when the model decides, each at most
    the 20 MB an upstream body may be; a record of a kilobyte when a bucket holds the bytes)."""
    per_image = min((width or 1024) * (height or 1024) * 3 + 65536, 20 * 2**20)
    if not in_redis:
        per_image = RECORD_BYTES
    return f"{job_id}:{n * per_image}"


# KEYS: the images in flight, their bytes. ARGV: the job's member. A reservation that lapsed
# was dropped from the total when admission last added them all up again (api/jobs/admit.py).
_RELEASE = """
if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then
  redis.call('DECRBY', KEYS[2], string.match(ARGV[1], ':(%d+)$'))
end
"""


def release_reservation(pipe: Pipeline, member: str) -> None:
    """End a job's reservation among the images in flight, its bytes leaving the total with it
    (once, however often it is asked)."""
    queue_script(pipe, _RELEASE, [keys.IMAGES_IN_FLIGHT, keys.IMAGES_IN_FLIGHT_BYTES], member)


def stored_bytes(images: Iterable[bytes], in_redis: bool = True) -> int:
    """What images just stored take in Redis: their bytes, or a record each in a bucket's case."""
    return sum(len(data) if in_redis else RECORD_BYTES for data in images)


# What a client may cache an image kept for good (IMAGE_EXPIRATION=0) for: a year.
KEPT_MAX_AGE = 365 * 24 * 3600

decode_meta = msgspec.msgpack.Decoder(StoredImage).decode
encode_meta = msgspec.msgpack.Encoder().encode


def new_image_id() -> str:
    return secrets.token_hex(16)


def is_image_id(text: str) -> bool:
    return len(text) == 32 and all(c in "0123456789abcdef" for c in text)


def remaining(meta: StoredImage) -> int:
    """Seconds until the store drops the image (a year for one kept for good)."""
    if math.isinf(meta.expires):
        return KEPT_MAX_AGE
    return max(int(meta.expires - time.time()), 0)


class CachedImage(NamedTuple):
    meta: StoredImage
    data: bytes | memoryview
    ttl_seconds: int


class OpenedImage(NamedTuple):
    """An image ready to serve: its bytes at hand (`data`), arriving in pieces (`chunks`,
    `meta.size` bytes in all), or elsewhere, at `redirect`."""

    meta: StoredImage
    ttl_seconds: int
    data: bytes | memoryview | None = None
    chunks: AsyncGenerator[bytes, None] | None = None
    redirect: str | None = None


Staged = Sequence[tuple[StoredImage, bytes]]


@runtime_checkable  # Litestar checks a dependency against its annotation
class ImageStore(Protocol):
    ttl_seconds: int

    def describe(self, info: ImageInfo, size: int = 0) -> StoredImage:
        """The record of an image about to be stored: a fresh id, what its bytes say, expiry."""
        ...

    async def upload(self, images: Staged) -> None:
        """Put the bytes that live outside Redis where they go; raises StorageUnavailable."""
        ...

    def stage(self, pipe: Pipeline, meta: StoredImage, data: bytes) -> None:
        """Add the Redis writes that keep `meta` (and the bytes, if Redis holds them) to `pipe`."""
        ...

    async def put(self, data: bytes, info: ImageInfo) -> StoredImage:
        """describe, upload and stage in one go (tests, the benchmark)."""
        ...

    async def get(self, image_id: str) -> CachedImage | None:
        """The image whole, or None when it is unknown, expired or its bytes have gone."""
        ...

    async def open(self, image_id: str) -> OpenedImage | None:
        """The image as /image serves it, or None when it is unknown, expired or gone."""
        ...

    async def cached_bytes(self) -> int:
        """Bytes of the images still kept (expired ones are subtracted as they are found)."""
        ...

    async def sweep(self) -> int:
        """Delete the bytes of expired images that do not go by themselves; returns how many."""
        ...

    async def close(self) -> None: ...


def describe(info: ImageInfo, size: int, ttl_seconds: int, key: str = "") -> StoredImage:
    """A record with a fresh unguessable id and its expiry (carried in the record: serving then
    needs one command); `ttl_seconds` 0 keeps the image for good."""
    return StoredImage(
        id=new_image_id(),
        content_type=info.content_type,
        extension=info.extension,
        width=info.width,
        height=info.height,
        expires=time.time() + ttl_seconds if ttl_seconds else math.inf,
        size=size,
        key=key,
    )


def stage_accounting(pipe: Pipeline, meta: StoredImage, size: int) -> None:
    """Count an image's bytes until it expires (what /metrics reports, cached_bytes returns)."""
    pipe.zadd(keys.IMAGE_EXPIRIES, {f"{meta.id}:{size}": meta.expires})
    pipe.incrby(keys.IMAGE_BYTES, size)


async def counted_bytes(redis: Redis) -> int:
    return int(
        await run_script(redis, _CACHED_BYTES, [keys.IMAGE_EXPIRIES, keys.IMAGE_BYTES], time.time())
    )


class RedisImageStore:
    """Bytes and record in two Redis strings that expire together. Writes through redis-py;
    reads through `reader`, when given, which copies a megabyte image far less
    (common/store/bulk_reader.py)."""

    def __init__(self, redis: Redis, ttl_seconds: int, reader: BulkReader | None = None) -> None:
        self._redis = redis
        self._reader = reader
        self.ttl_seconds = ttl_seconds

    def describe(self, info: ImageInfo, size: int = 0) -> StoredImage:
        return describe(info, size, self.ttl_seconds)

    async def upload(self, images: Staged) -> None:
        """Nothing to do: the bytes go into Redis with the record."""

    async def put(self, data: bytes, info: ImageInfo) -> StoredImage:
        meta = self.describe(info, len(data))
        async with self._redis.pipeline(transaction=True) as pipe:
            self.stage(pipe, meta, data)
            await pipe.execute()
        return meta

    def stage(self, pipe: Pipeline, meta: StoredImage, data: bytes) -> None:
        expires_ms = int(meta.expires * 1000)
        pipe.set(keys.image_record(meta.id), encode_meta(meta), pxat=expires_ms)
        pipe.set(keys.image_bytes(meta.id), data, pxat=expires_ms)
        stage_accounting(pipe, meta, len(data))

    async def cached_bytes(self) -> int:
        return await counted_bytes(self._redis)

    async def get(self, image_id: str) -> CachedImage | None:
        meta, data = await self._read(
            "MGET", keys.image_record(image_id), keys.image_bytes(image_id)
        )
        if meta is None and data is None:  # stored by an earlier version, as one hash
            meta, data = await self._read("HMGET", keys.image(image_id), "meta", "data")
        if meta is None or data is None:
            return None
        stored = decode_meta(meta)
        return CachedImage(stored, data, remaining(stored))

    async def _read(self, *command: str) -> list:
        if self._reader is not None:
            return await self._reader.execute(*command)
        return await reply(self._redis.execute_command(*command))

    async def open(self, image_id: str) -> OpenedImage | None:
        cached = await self.get(image_id)
        if cached is None:
            return None
        return OpenedImage(cached.meta, cached.ttl_seconds, data=cached.data)

    async def sweep(self) -> int:
        """Nothing to do: Redis expires the bytes with their record."""
        return 0

    async def close(self) -> None:
        if self._reader is not None:
            await self._reader.close()


def image_store(settings: Settings, redis: Redis, reader: BulkReader | None = None) -> ImageStore:
    """The store IMAGE_STORE names (`reader`, for bytes kept in Redis, is then unused)."""
    if settings.s3 is None:
        return RedisImageStore(redis, settings.image_expiration, reader)
    from common.store.s3 import S3ImageStore  # imported here: obstore loads only when used

    return S3ImageStore(redis, settings.image_expiration, settings.s3)
