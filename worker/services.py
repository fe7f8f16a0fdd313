"""What every job uses, built once when a worker process starts and closed when it stops."""

from typing import NamedTuple

import httpx
from arq.constants import default_queue_name as ARQ_QUEUE
from httpx_aiohttp.transport import AiohttpResponseStream
from redis.asyncio import Redis

from common.config.types import Settings
from common.http_client import CookielessAiohttpTransport, CookielessClient
from common.store.events import EventLog
from common.store.images import ImageStore, image_store
from common.store.jobs import JobStore
from worker.failover import Failover
from worker.upstream.bodies import ACCEPT_ENCODING


class Services(NamedTuple):
    settings: Settings
    redis: Redis
    http: httpx.AsyncClient
    store: ImageStore
    events: EventLog
    failover: Failover
    jobs: JobStore


# httpx-aiohttp hands a body on in 16 KB chunks, each through four async generators: an image
# answer is read whole anyway (worker/upstream/bodies.py caps it), so in pieces of up to a megabyte.
AiohttpResponseStream.CHUNK_SIZE = 1 << 20


def build_services(
    settings: Settings, redis: Redis, transport: httpx.AsyncBaseTransport | None = None
) -> Services:
    # One client for every upstream call: connection pools are reused across jobs. httpx's own
    # pure-Python pool costs milliseconds of CPU per large answer under concurrency; aiohttp's
    # transport keeps httpx's API (and tests' MockTransport seam) at a tenth of the cost.
    limits = httpx.Limits(
        max_connections=settings.worker_concurrency * 2, max_keepalive_connections=64
    )
    http = CookielessClient(
        # Each attempt as a whole is bounded by the failover loop (the provider's own timeout,
        # the job's deadline); this is a backstop that never cuts an attempt short.
        timeout=httpx.Timeout(_longest_timeout(settings), connect=settings.connect_timeout),
        follow_redirects=False,
        # Only what worker/upstream/bodies.py inflates under its cap; httpx adds br and zstd when
        # their packages happen to be installed.
        headers={"Accept-Encoding": ACCEPT_ENCODING},
        transport=transport or CookielessAiohttpTransport(limits=limits),
    )
    return Services(
        settings=settings,
        redis=redis,
        http=http,
        store=image_store(settings, redis),
        events=EventLog(redis, settings.records_ttl),
        failover=Failover(redis, http, settings),
        jobs=JobStore(
            redis, getattr(redis, "default_queue_name", ARQ_QUEUE), settings.image_expiration
        ),
    )


def _longest_timeout(settings: Settings) -> float:
    return max([settings.provider_timeout, *(p.timeout for p in settings.providers if p.timeout)])
