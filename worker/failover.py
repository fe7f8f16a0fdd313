"""The key failover loop, written once for every upstream: the image providers and the LLM.

A failure another key can fix (refused key, spent quota, rate limit, 5xx) moves on to the next
key; one it cannot (a refused prompt, a refused configuration, a block page, an unusable
answer, a timeout) ends the loop at once. The key order is a parameter: images start at a
fleet-wide rotating cursor and rest failing keys; the enhancement LLM tries its keys in turn.
"""

import asyncio
import enum
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

import httpx
from redis.asyncio import Redis

from common.config.types import ProviderSpec, Settings
from common.errors import ContentRejected, ImagegateError, RateLimited, UpstreamFailed
from common.store import keys, metrics
from worker.providers.base import Adapter, Report, Upstream, UpstreamRequest
from worker.upstream.client import UpstreamClient
from worker.upstream.failures import Reason, UpstreamFailure
from worker.upstream.redact import redact
from worker.upstream.sniff import ImageInfo, sniff

log = logging.getLogger("imagegate.failover")

T = TypeVar("T")
Notify = Callable[[str], Awaitable[None]]
Images = list[tuple[bytes, ImageInfo]]
Exhausted = Callable[[ProviderSpec, list["UpstreamFailure"]], ImagegateError]

BENCH_SECONDS = {Reason.KEY: 600, Reason.QUOTA: 3600, Reason.RATE: 60}
# How long a worker trusts what it read of a single-key provider's bench (see KeyRing).
BENCH_FRESH = 1.0
_RATE_REASONS = (Reason.RATE, Reason.QUOTA)
MAX_SIDE = 16384  # no upstream makes larger images; a header claiming more is lying


class KeyOrder(enum.Enum):
    ROTATE = "rotate"  # a fleet-wide rotating start, failing keys rested (benched) for all
    IN_TURN = "in turn"  # the order configured, nothing shared between jobs


class Keys(Protocol):
    keys: tuple[str | None, ...]
    shared: bool  # its failures and failovers count in /metrics

    async def plan(self) -> tuple[list[int], dict[int, tuple[float, Reason]]]: ...

    async def bench(self, index: int, seconds: float, reason: Reason) -> None: ...


class KeysInTurn:
    """A provider's keys in the order configured, none ever benched."""

    shared = False

    def __init__(self, provider: ProviderSpec) -> None:
        self.keys: tuple[str | None, ...] = provider.keys or (None,)

    async def plan(self) -> tuple[list[int], dict[int, tuple[float, Reason]]]:
        return list(range(len(self.keys))), {}

    async def bench(self, index: int, seconds: float, reason: Reason) -> None:
        return None


# A bench key → (when it was read, its value), kept by each worker for its single keys.
SeenBenches = dict[str, tuple[float, bytes | None]]


class KeyRing:
    """A provider's keys as every worker sees them: a shared rotating start and shared benches.

    A single key has nothing to rotate, and its bench is read at most once every BENCH_FRESH
    seconds per worker (`seen`), sparing most jobs a round trip: a bench this worker sets
    counts at once, one another worker set within a second, costing at most a failed call."""

    shared = True

    def __init__(self, redis: Redis, provider: ProviderSpec, seen: SeenBenches) -> None:
        self._redis = redis
        self._provider = provider.name
        self._seen = seen
        self.keys: tuple[str | None, ...] = provider.keys or (None,)
        self._bench_keys = [keys.key_bench(provider.name, key) for key in self.keys]

    async def plan(self) -> tuple[list[int], dict[int, tuple[float, Reason]]]:
        """The order to try keys in, and the benched ones with their release time and reason."""
        count = len(self.keys)
        if count == 1:
            cursor, benches = 0, [await self._only_bench()]
        else:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.incr(keys.key_cursor(self._provider))
                pipe.mget(self._bench_keys)
                cursor, benches = await pipe.execute()
        order = [(cursor + offset) % count for offset in range(count)]
        benched = {}
        for index, value in enumerate(benches):
            if value:
                until, _, reason = value.decode().partition(" ")
                benched[index] = (float(until), Reason(reason))
        return order, benched

    async def _only_bench(self) -> bytes | None:
        key, now = self._bench_keys[0], time.monotonic()
        read_at, value = self._seen.get(key, (0.0, None))
        if now - read_at >= BENCH_FRESH:
            value = await self._redis.get(key)
            self._seen[key] = (now, value)
        if value and float(value.partition(b" ")[0]) <= time.time():
            return None  # released since it was read
        return value

    async def bench(self, index: int, seconds: float, reason: Reason) -> None:
        until = time.time() + seconds
        value = f"{until} {reason.value}"
        await self._redis.set(self._bench_keys[index], value, px=max(int(seconds * 1000), 1))
        if len(self.keys) == 1:
            self._seen[self._bench_keys[index]] = (time.monotonic(), value.encode())


class Failover:
    """Each attempt gets the provider's timeout (PROVIDER_TIMEOUT unless it sets its own); all
    attempts of a job share REQUEST_TIMEOUT, past which no client waits for them any more."""

    def __init__(self, redis: Redis, client: UpstreamClient, settings: Settings) -> None:
        self._redis = redis
        self._client = client
        self._deadline = settings.request_timeout
        self._attempt_timeout = settings.provider_timeout
        self._retry_on_timeout = settings.retry_on_timeout
        self._seen_benches: SeenBenches = {}

    async def run(
        self,
        provider: ProviderSpec,
        adapter: Adapter,
        request: UpstreamRequest,
        notify: Notify,
        report: Report | None = None,
    ) -> Images:
        """Images from the first key that gives them; an ImagegateError when none does."""

        async def images(upstream: Upstream) -> Images:
            return recognise(await adapter(upstream._replace(report=report), request))

        return await self.each_key(provider, images, notify)

    async def each_key(
        self,
        provider: ProviderSpec,
        call: Callable[[Upstream], Awaitable[T]],
        notify: Notify,
        *,
        order: KeyOrder = KeyOrder.ROTATE,
        exhausted: Exhausted | None = None,
    ) -> T:
        """What `call` gives with the first key that works; when none does, the error
        `exhausted` makes of the failures (by default all_failed)."""
        ring: Keys = (
            KeyRing(self._redis, provider, self._seen_benches)
            if order is KeyOrder.ROTATE
            else KeysInTurn(provider)
        )
        deadline = time.monotonic() + self._deadline
        planned, benched = await ring.plan()
        attempts = [index for index in planned if index not in benched]
        if not attempts:
            raise all_benched(provider, benched)
        failures: list[UpstreamFailure] = []
        for position, index in enumerate(attempts):
            budget = min(provider.timeout or self._attempt_timeout, deadline - time.monotonic())
            if budget <= 0:
                raise UpstreamFailed(
                    f"{provider.name} gave no image within {self._deadline:g} s ({len(failures)} key(s) tried)"
                )
            try:
                return await self._attempt(
                    call, Upstream(self._client, provider, ring.keys[index]), budget
                )
            except UpstreamFailure as failure:
                await self._failed(provider, ring, index, failure)
                failures.append(failure)
            if position + 1 < len(attempts):
                if ring.shared:
                    await self._count(metrics.failover, provider.name)
                await notify(
                    f"Key {index + 1} of {len(ring.keys)} of {provider.name} failed ({failures[-1].reason.value}); "
                    f"failing over to key {attempts[position + 1] + 1}"
                )
        raise (exhausted or all_failed)(provider, failures)

    async def _failed(
        self, provider: ProviderSpec, ring: Keys, index: int, failure: UpstreamFailure
    ) -> None:
        """Log and count a failed attempt, raise if no other key can help, else bench the key."""
        failure.message = redact(failure.message, secrets_of(provider))
        log.warning(
            "key %d of %s failed: %s%s",
            index + 1,
            provider.name,
            failure.reason.value,
            f" (HTTP {failure.status})" if failure.status else "",
            extra={
                "provider": provider.name,
                "key_index": index + 1,
                "reason": failure.reason.value,
                "status": failure.status,
            },
        )
        if ring.shared:
            await self._count(
                metrics.upstream_error,
                provider.name,
                str(failure.status or failure.reason.name.lower()),
            )
        self._stop_if_final(provider, failure)
        await self._bench(ring, index, failure)

    async def _attempt(
        self, call: Callable[[Upstream], Awaitable[T]], upstream: Upstream, budget: float
    ) -> T:
        try:
            async with asyncio.timeout(budget):
                return await call(upstream)
        except TimeoutError:
            raise UpstreamFailure(Reason.TIMEOUT, f"no answer within {budget:g} s") from None
        except RecursionError:  # any JSON decoder meeting an answer nested thousands deep
            raise UpstreamFailure(
                Reason.UNUSABLE, "the upstream answered with JSON nested too deep to read"
            ) from None

    def _stop_if_final(self, provider: ProviderSpec, failure: UpstreamFailure) -> None:
        """Raise the client's error for failures another key cannot fix."""
        name, message, reason = provider.name, failure.message, failure.reason
        if reason is Reason.PROMPT:
            raise ContentRejected(f"{name} refused the prompt: {message}")
        if reason is Reason.CONFIG:
            raise UpstreamFailed(
                f"{name} rejected imagegate's request ({message}); check its configuration",
                code="upstream_misconfigured",
            )
        if reason is Reason.BLOCKED:
            raise UpstreamFailed(
                f"{name} turned the request away before its API saw it ({message}); no key is at fault"
            )
        if reason is Reason.UNUSABLE:
            raise UpstreamFailed(f"{name} answered with something imagegate cannot use: {message}")
        if reason is Reason.TIMEOUT and not self._retry_on_timeout:
            # The upstream may still be making, and billing, the image: do not pay twice.
            raise UpstreamFailed(
                f"{name} did not answer in time ({message}); not retried (RETRY_ON_TIMEOUT is off)"
            )

    async def _count(self, counter: Callable[..., None], *labels: str) -> None:
        """Add to a fleet-wide counter of /metrics (upstream errors by status, failovers)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            counter(pipe, *labels)
            await pipe.execute()

    async def _bench(self, ring: Keys, index: int, failure: UpstreamFailure) -> None:
        seconds: float | None = BENCH_SECONDS.get(failure.reason)
        if seconds is not None:
            if failure.reason is Reason.RATE and failure.retry_after:
                seconds = failure.retry_after
            await ring.bench(index, seconds, failure.reason)


def secrets_of(provider: ProviderSpec) -> list[str]:
    """What must never reach a client: the keys (and each half of a `user:pass` or
    `account:token` key), the base URL and its host."""
    halves = [half for key in provider.keys for half in key.split(":") if len(half) >= 6]
    host = httpx.URL(provider.base_url).host if provider.base_url else ""
    return [*provider.keys, *halves, provider.base_url, host]


def recognise(images: list[bytes]) -> Images:
    """Each image with what its magic bytes say it is; anything else is an unusable answer."""
    recognised = []
    for data in images:
        info = sniff(data)
        if info is None:
            raise UpstreamFailure(
                Reason.UNUSABLE,
                "the upstream answered with something that is not a PNG, JPEG, WebP or GIF",
            )
        if not (1 <= info.width <= MAX_SIDE and 1 <= info.height <= MAX_SIDE):
            raise UpstreamFailure(
                Reason.UNUSABLE,
                f"the upstream's image claims {info.width}x{info.height} px, "
                f"outside 1-{MAX_SIDE} px a side",
            )
        recognised.append((data, info))
    if not recognised:
        raise UpstreamFailure(Reason.UNUSABLE, "the upstream answered without images")
    return recognised


def all_failed(provider: ProviderSpec, failures: list[UpstreamFailure]) -> ImagegateError:
    last = failures[-1]
    summary = f"every key of {provider.name} failed ({len(failures)} tried); last: {last.reason.value}: {last.message}"
    if all(f.reason in _RATE_REASONS for f in failures):
        wait = min(f.retry_after or BENCH_SECONDS[f.reason] for f in failures)
        return RateLimited(summary, code="upstream_rate_limited", retry_after=_seconds(wait))
    return UpstreamFailed(summary)


def all_benched(provider: ProviderSpec, benched: dict[int, tuple[float, Reason]]) -> ImagegateError:
    soonest = min(until for until, _ in benched.values())
    wait = _seconds(soonest - time.time())
    message = f"every key of {provider.name} is resting after recent failures; retry in {wait} s"
    if all(reason in _RATE_REASONS for _, reason in benched.values()):
        return RateLimited(message, code="upstream_rate_limited", retry_after=wait)
    return UpstreamFailed(message, retry_after=wait)


def _seconds(value: float) -> int:
    return max(1, int(value + 0.999))
