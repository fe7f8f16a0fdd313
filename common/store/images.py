"""The image cache: bytes under a random 128-bit id with their type and size, for a TTL."""

import secrets
import time
from typing import NamedTuple

import msgspec
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from common.schemas import StoredImage
from common.store import keys
from common.store.bulk_reader import BulkReader
from worker.upstream.sniff import ImageInfo

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

_decode_meta = msgspec.msgpack.Decoder(StoredImage).decode
_encode = msgspec.msgpack.Encoder().encode


def new_image_id() -> str:
    return secrets.token_hex(16)


def is_image_id(text: str) -> bool:
    return len(text) == 32 and all(c in "0123456789abcdef" for c in text)


class CachedImage(NamedTuple):
    meta: StoredImage
    data: bytes | memoryview
    ttl_seconds: int


class ImageStore:
    """Writes through redis-py; reads through `reader`, when given, which copies a megabyte
    image far less (common/bulk_reader.py)."""

    def __init__(self, redis: Redis, ttl_seconds: int, reader: BulkReader | None = None) -> None:
        self._redis = redis
        self._reader = reader
        self.ttl_seconds = ttl_seconds

    def describe(self, info: ImageInfo) -> StoredImage:
        """What will be stored for an image: a fresh unguessable id, what its bytes say, and
        when the cache drops it (carried in the record: serving then needs one command)."""
        return StoredImage(
            id=new_image_id(),
            content_type=info.content_type,
            extension=info.extension,
            width=info.width,
            height=info.height,
            expires=time.time() + self.ttl_seconds,
        )

    async def put(self, data: bytes, info: ImageInfo) -> StoredImage:
        meta = self.describe(info)
        async with self._redis.pipeline(transaction=True) as pipe:
            self.stage(pipe, meta, data)
            await pipe.execute()
        return meta

    def stage(self, pipe: Pipeline, meta: StoredImage, data: bytes) -> None:
        """Add the writes that store `data` as `meta` to `pipe` (the worker stores a job's images
        in the same transaction as its result)."""
        key = keys.image(meta.id)
        pipe.hset(key, mapping={"meta": _encode(meta), "data": data})
        pipe.pexpireat(key, int(meta.expires * 1000))
        pipe.zadd(keys.IMAGE_EXPIRIES, {f"{meta.id}:{len(data)}": meta.expires})
        pipe.incrby(keys.IMAGE_BYTES, len(data))

    async def cached_bytes(self) -> int:
        """Bytes of the images still cached (expired ones are subtracted as they are found)."""
        return int(
            await self._redis.eval(
                _CACHED_BYTES, 2, keys.IMAGE_EXPIRIES, keys.IMAGE_BYTES, time.time()
            )
        )

    async def get(self, image_id: str) -> CachedImage | None:
        if self._reader is not None:
            meta, data = await self._reader.execute("HMGET", keys.image(image_id), "meta", "data")
        else:
            meta, data = await self._redis.hmget(keys.image(image_id), "meta", "data")
        if meta is None or data is None:
            return None
        stored = _decode_meta(meta)
        return CachedImage(stored, data, max(int(stored.expires - time.time()), 0))
