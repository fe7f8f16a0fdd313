"""Idempotency-Key: a retried request attaches to the job the first one started (SPEC §2.1)."""

from redis.asyncio import Redis

from common.errors import IdempotencyKeyReused
from common.store import keys
from common.store.keys import digest
from common.store.redis import run_script

# Delete the claim only if it still names this job: a newer claim must survive.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Claim:
    """One request's claim on an Idempotency-Key, made before its job is enqueued."""

    def __init__(self, caller: str, idempotency_key: str, body: bytes, job_id: str) -> None:
        self.key = keys.idempotency(caller, digest(idempotency_key))
        self.body_hash = digest(body)
        self.value = f"{self.body_hash}:{job_id}"

    async def take(self, redis: Redis, ttl_seconds: int) -> str | None:
        """None when this request owns the key; else the id of the job to attach to."""
        for _ in range(3):  # the holder may expire or be released between SET and GET
            if await redis.set(self.key, self.value, nx=True, ex=ttl_seconds):
                return None
            existing = await redis.get(self.key)
            if existing is not None:
                body_hash, _, job_id = existing.decode().partition(":")
                if body_hash != self.body_hash:
                    raise IdempotencyKeyReused(
                        "this Idempotency-Key was used with a different request body"
                    )
                return job_id
        return None


async def release(redis: Redis, key: str, value: str) -> None:
    """Free a claim (its job failed, or was never enqueued), if it is still the holder."""
    await run_script(redis, _RELEASE, [key], value)
