"""What every job uses, built once when a worker process starts and closed when it stops."""

from typing import NamedTuple

import httpx
from arq.constants import default_queue_name as ARQ_QUEUE
from redis.asyncio import Redis

from common.config.types import Settings
from common.store.events import EventLog
from common.store.images import ImageStore, image_store
from common.store.jobs import JobStore
from worker.failover import Failover
from worker.upstream.bodies import ACCEPT_ENCODING
from worker.upstream.client import UpstreamClient


class Services(NamedTuple):
    settings: Settings
    redis: Redis
    http: UpstreamClient
    store: ImageStore
    events: EventLog
    failover: Failover
    jobs: JobStore


def build_services(settings: Settings, redis: Redis) -> Services:
    # One client for every upstream call: connection pools are reused across jobs.
    http = UpstreamClient(
        limits=httpx.Limits(max_connections=settings.worker_concurrency * 2),
        # Each attempt as a whole is bounded by the failover loop (the provider's own timeout,
        # the job's deadline); this is a backstop that never cuts an attempt short.
        timeout=httpx.Timeout(_longest_timeout(settings), connect=settings.connect_timeout),
        # Only what worker/upstream/bodies.py inflates under its cap; httpx adds br and zstd when
        # their packages happen to be installed.
        headers={"Accept-Encoding": ACCEPT_ENCODING},
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
