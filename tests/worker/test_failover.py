"""The failover loop against fake upstreams and a real Redis: rotation, benches, every stop rule.

Two `Failover`s with their own HTTP clients over one Redis stand for two worker processes;
tests/e2e/test_failover.py runs the real processes.
"""

import asyncio
import itertools
import logging
import time

import pytest
from redis.asyncio import Redis

from common.config.types import ProviderSpec, Settings
from common.errors import ContentRejected, RateLimited, UpstreamFailed
from common.store import keys
from tests.fakes.adapter_calls import image_request
from tests.fakes.openai_images import GENERATIONS, start_openai_images
from tests.fakes.siliconflow import FLUX, start_siliconflow
from worker import failover as failover_module
from worker.failover import Failover, KeyOrder
from worker.providers import ADAPTERS
from worker.upstream.client import UpstreamClient

BEHAVIOUR = {
    "sk-500-a": "server_error",
    "sk-500-b": "server_error",
    "sk-429-a": "rate_limited",
    "sk-429-b": "rate_limited",
    "sk-quota": "insufficient_quota",
}
_names = itertools.count()


@pytest.fixture(scope="module")
def openai_fake():
    server, fake = start_openai_images(valid_keys=["sk-a", "sk-b", "sk-c"], key_behaviour=BEHAVIOUR)
    with server:
        yield server, fake


@pytest.fixture(scope="module")
def siliconflow_fake():
    server, fake = start_siliconflow(
        valid_keys=["sf-good"], key_behaviour={"sf-429": "rate_limited"}
    )
    with server:
        yield server, fake


@pytest.fixture
async def workers(redis):
    """Two failover loops, as two worker processes have, sharing one Redis."""
    made = []

    def make(**settings) -> Failover:
        client = UpstreamClient()
        made.append(client)
        return Failover(redis, client, Settings(providers=(), **settings))

    yield make
    for client in made:
        await client.aclose()


def openai_provider(server, *provider_keys: str, **fields) -> ProviderSpec:
    """A provider of its own name, so its Redis cursor and benches start fresh."""
    return ProviderSpec(
        name=f"up-{next(_names)}",
        kind="openai",
        base_url=f"{server.url}/v1",
        keys=provider_keys,
        **fields,
    )


async def generate(
    failover: Failover, provider: ProviderSpec, prompt: str = "a fox", notes: list | None = None
):
    async def notify(text: str) -> None:
        if notes is not None:
            notes.append(text)

    request = image_request(
        provider.kind,
        "flux-dev" if provider.kind == "openai" else FLUX,
        prompt,
        width=512,
        height=512,
    )
    return await failover.run(provider, ADAPTERS[provider.kind], request, notify)


def keys_used(server) -> list[str]:
    return [
        r.headers["authorization"].removeprefix("Bearer ") for r in server.requests_to(GENERATIONS)
    ]


async def bench_ttl(redis: Redis, provider: ProviderSpec, key: str) -> int:
    return await redis.ttl(keys.key_bench(provider.name, key))


async def test_rotation_spreads_requests_over_keys_and_workers(openai_fake, workers):
    server, _ = openai_fake
    server.clear()
    first, second = workers(), workers()
    provider = openai_provider(server, "sk-a", "sk-b", "sk-c")
    for failover in (first, second, first, second, first, second):
        assert await generate(failover, provider)
    used = keys_used(server)
    assert sorted(used) == ["sk-a", "sk-a", "sk-b", "sk-b", "sk-c", "sk-c"]
    assert all(a != b for a, b in zip(used, used[1:], strict=False))


async def test_a_refused_key_is_benched_for_every_worker(openai_fake, workers, redis):
    server, _ = openai_fake
    server.clear()
    first, second = workers(), workers()
    provider = openai_provider(server, "sk-revoked", "sk-a")
    notes: list[str] = []
    for failover in (first, second, first, second):
        assert await generate(failover, provider, notes=notes)
    assert keys_used(server).count("sk-revoked") == 1
    assert 590 <= await bench_ttl(redis, provider, "sk-revoked") <= 600
    assert notes == [f"Key 1 of 2 of {provider.name} failed (key rejected); failing over to key 2"]


@pytest.mark.parametrize(("bad", "low", "high"), [("sk-quota", 3590, 3600), ("sk-429-a", 1, 7)])
async def test_quota_benches_for_an_hour_and_rate_limits_for_retry_after(
    openai_fake, workers, redis, bad, low, high
):
    server, _ = openai_fake
    provider = openai_provider(server, "sk-a", bad)  # the first request starts at the second key
    assert await generate(workers(), provider)
    assert low <= await bench_ttl(redis, provider, bad) <= high


async def test_a_rate_limit_without_retry_after_benches_for_60_s(siliconflow_fake, workers, redis):
    server, _ = siliconflow_fake
    provider = ProviderSpec(
        name=f"sf-{next(_names)}",
        kind="siliconflow",
        base_url=f"{server.url}/v1",
        keys=("sf-good", "sf-429"),
    )
    assert await generate(workers(), provider)
    assert 55 <= await bench_ttl(redis, provider, "sf-429") <= 60


async def test_a_single_keys_bench_counts_at_once_here_and_soon_elsewhere(
    openai_fake, workers, redis, monkeypatch
):
    """A worker reads a single key's bench at most every BENCH_FRESH seconds (one round trip
    less a job): its own bench counts at once, another worker's once that time has passed."""
    monkeypatch.setattr(failover_module, "BENCH_FRESH", 0.3)
    server, _ = openai_fake
    provider = openai_provider(server, "sk-a")
    here = workers()
    assert await generate(here, provider)  # read: not benched
    until = time.time() + 600
    await redis.set(keys.key_bench(provider.name, "sk-a"), f"{until} key rejected", ex=600)
    server.clear()
    assert await generate(here, provider)  # what it read is still fresh
    await asyncio.sleep(0.3)
    with pytest.raises(UpstreamFailed, match="resting"):
        await generate(here, provider)
    assert len(keys_used(server)) == 1
    revoked = openai_provider(server, "sk-revoked")
    with pytest.raises(UpstreamFailed, match="failed"):
        await generate(here, revoked)  # benches it
    with pytest.raises(UpstreamFailed, match="resting"):
        await generate(here, revoked)  # at once


async def test_every_key_benched_answers_at_once_with_retry_after(openai_fake, workers):
    server, _ = openai_fake
    provider = openai_provider(server, "sk-revoked")
    with pytest.raises(UpstreamFailed):
        await generate(workers(), provider)
    server.clear()
    with pytest.raises(UpstreamFailed) as benched:
        await generate(workers(), provider)
    assert 590 <= benched.value.retry_after <= 600 and "sk-revoked" not in benched.value.message
    assert keys_used(server) == []


async def test_all_keys_rate_limited_is_429_then_answered_without_calling(openai_fake, workers):
    server, _ = openai_fake
    provider = openai_provider(server, "sk-429-a", "sk-429-b")
    server.clear()
    with pytest.raises(RateLimited) as limited:
        await generate(workers(), provider)
    assert (limited.value.code, limited.value.retry_after) == ("upstream_rate_limited", 7)
    assert provider.name in limited.value.message and "sk-429" not in limited.value.message
    with pytest.raises(RateLimited) as again:
        await generate(workers(), provider)
    assert again.value.code == "upstream_rate_limited" and 1 <= again.value.retry_after <= 7
    assert len(keys_used(server)) == 2


async def test_server_errors_move_on_and_all_failing_is_502_naming_the_provider(
    openai_fake, workers, redis
):
    server, _ = openai_fake
    provider = openai_provider(server, "sk-500-a", "sk-500-b")
    server.clear()
    with pytest.raises(UpstreamFailed) as failed:
        await generate(workers(), provider)
    assert failed.value.code == "upstream_failed" and failed.value.info().should_retry is False
    assert provider.name in failed.value.message and "sk-500" not in failed.value.message
    assert sorted(keys_used(server)) == ["sk-500-a", "sk-500-b"]
    assert await bench_ttl(redis, provider, "sk-500-a") == -2  # a 5xx is not the key's fault


@pytest.mark.parametrize(
    ("prompt", "error", "code"),
    [
        ("__moderation__", ContentRejected, "content_policy_violation"),
        ("__badmodel__", UpstreamFailed, "upstream_misconfigured"),
        (
            "__html403__",
            UpstreamFailed,
            "upstream_failed",
        ),  # a challenge page: the provider's, not a key's
        ("__403__", UpstreamFailed, "upstream_failed"),  # a region block
        ("__huge__", UpstreamFailed, "upstream_failed"),
        ("__notimage__", UpstreamFailed, "upstream_failed"),
    ],
)
async def test_failures_no_key_can_fix_stop_after_one_call(
    openai_fake, workers, redis, prompt, error, code
):
    server, _ = openai_fake
    provider = openai_provider(server, "sk-a", "sk-b")
    server.clear()
    with pytest.raises(error) as raised:
        await generate(workers(), provider, f"a fox {prompt}")
    assert raised.value.code == code and raised.value.info().should_retry is False
    assert len(keys_used(server)) == 1
    assert server.url.removeprefix("http://") not in raised.value.message
    assert (
        await bench_ttl(redis, provider, "sk-a") == -2
        and await bench_ttl(redis, provider, "sk-b") == -2
    )


async def test_a_read_timeout_is_not_retried_unless_asked(openai_fake, workers):
    server, _ = openai_fake
    provider = openai_provider(server, "sk-a", "sk-b", timeout=0.3)
    server.clear()
    with pytest.raises(UpstreamFailed) as failed:
        await generate(workers(), provider, "a fox __slow:2__")
    assert "not retried" in failed.value.message and len(keys_used(server)) == 1
    server.clear()
    with pytest.raises(UpstreamFailed):
        await generate(workers(retry_on_timeout=True), provider, "a fox __slow:2__")
    assert len(keys_used(server)) == 2


async def test_all_attempts_share_one_deadline(openai_fake, workers):
    server, _ = openai_fake
    provider = openai_provider(server, "sk-a", "sk-b", "sk-c")
    server.clear()
    failover = workers(request_timeout=0.5, provider_timeout=5, retry_on_timeout=True)
    with pytest.raises(UpstreamFailed):
        await generate(
            failover, provider, "a fox __slow:0.3__ __500__"
        )  # each key fails after 0.3 s
    assert len(keys_used(server)) < 3  # the third key's turn came after the deadline


async def test_redis_never_holds_a_key(openai_fake, workers, redis):
    server, _ = openai_fake
    provider = openai_provider(server, "sk-revoked", "sk-quota", "sk-a")
    for _ in range(3):
        await generate(workers(), provider)
    stored = [name async for name in redis.scan_iter(f"{keys.PREFIX}provider:{provider.name}:*")]
    assert len(stored) == 3  # the cursor and two benches
    values = await redis.mget(stored)
    assert not any(
        secret in text
        for secret in ("sk-revoked", "sk-quota", "sk-a")
        for text in map(str, stored + values)
    )


async def test_keys_in_turn_start_at_the_first_key_each_time_and_bench_nothing(
    openai_fake, workers, redis
):
    server, _ = openai_fake
    server.clear()
    failover = workers()
    provider = openai_provider(server, "sk-429-a", "sk-a", "sk-b")
    request = image_request("openai", "flux-dev", width=512, height=512)

    async def images(upstream):
        return await ADAPTERS["openai"](upstream, request)

    async def notify(text: str) -> None: ...

    for _ in range(3):
        assert await failover.each_key(provider, images, notify, order=KeyOrder.IN_TURN)
    assert keys_used(server) == ["sk-429-a", "sk-a"] * 3  # the rate-limited key is never rested
    assert await redis.keys("imagegate:provider:*") == []


async def test_keys_in_turn_end_with_the_error_the_caller_words(openai_fake, workers):
    server, _ = openai_fake
    provider = openai_provider(server, "sk-500-a", "sk-500-b")

    async def images(upstream):
        return await ADAPTERS["openai"](upstream, image_request("openai", "flux-dev"))

    async def notify(text: str) -> None: ...

    def exhausted(provider, failures):
        return UpstreamFailed(f"{len(failures)} keys: {failures[-1].reason.value}")

    with pytest.raises(UpstreamFailed, match="^2 keys: unavailable$"):
        await workers().each_key(
            provider, images, notify, order=KeyOrder.IN_TURN, exhausted=exhausted
        )


async def test_the_log_line_of_a_failed_attempt_says_why(openai_fake, workers, caplog):
    server, _ = openai_fake
    provider = openai_provider(server, "sk-500-a", "sk-500-b")
    with caplog.at_level(logging.WARNING, "imagegate.failover"), pytest.raises(UpstreamFailed):
        await generate(workers(), provider)
    lines = sorted(r.getMessage() for r in caplog.records if r.name == "imagegate.failover")
    assert lines == [f"key {n} of {provider.name} failed: unavailable (HTTP 500)" for n in (1, 2)]
