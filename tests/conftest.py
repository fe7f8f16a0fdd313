"""Shared fixtures: a real redis-server per test module, fake upstreams, gateway processes."""

import contextlib
import getpass
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from common.store.redis import connect
from imagegate.redis_server import RedisProcess, redis_server_binary
from tests.fakes.openai_images import OpenAIImagesFake, start_openai_images
from tests.fakes.server import FakeServer
from tests.gateway import Gateway
from tests.servers import S3Server


def pytest_configure(config: pytest.Config) -> None:
    if redis_server_binary() is None:
        raise pytest.UsageError(
            "redis-server is not on PATH: the tests run a real Redis (.ci/run installs it)"
        )


def pytest_unconfigure(config: pytest.Config) -> None:
    """Nothing left in the temp folder: pytest has removed this run's tmp_path folders
    (tmp_path_retention_policy), and their parent goes too when no other run uses it."""
    with contextlib.suppress(OSError):
        (Path(tempfile.gettempdir()) / f"pytest-of-{getpass.getuser()}").rmdir()


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisProcess]:
    with RedisProcess() as server:
        yield server


@pytest.fixture
async def redis(redis_server):
    """A client of this module's Redis, emptied first."""
    redis_server.flush()
    client = connect(redis_server.url)
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto's S3 server, shared by the session (each test makes its own bucket); on its own
    loopback address, as a bucket on another host would be."""
    with S3Server("127.0.0.3") as server:
        yield server


@pytest.fixture(scope="module")
def openai_upstream() -> Iterator[tuple[FakeServer, OpenAIImagesFake]]:
    server, fake = start_openai_images(
        valid_keys=("sk-upstream-good",),
        key_behaviour={"sk-upstream-500": "server_error", "sk-upstream-429": "rate_limited"},
    )
    with server:
        yield server, fake


@pytest.fixture
def start_gateway() -> Iterator:
    """Start gateways, each on its own fresh redis-server; all are stopped after the test."""
    started: list[tuple[Gateway, RedisProcess]] = []

    def start(env: dict[str, str] | None = None, *, workers: int = 1, **kwargs) -> Gateway:
        redis = RedisProcess().start()
        gateway = Gateway(redis.url, env, **kwargs)
        started.append((gateway, redis))
        return gateway.start(workers)

    yield start
    for gateway, redis in started:
        gateway.stop()
        redis.stop()
