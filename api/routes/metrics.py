"""GET /metrics: this api process's metrics and, through Redis, the whole fleet's."""

import time

from arq.connections import ArqRedis
from litestar import Response, get
from litestar.di import NamedDependency
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

from api.auth import require_metrics_key
from api.jobs.wait import JobClient
from api.observability import ApiMetrics
from common.store import keys, metrics
from common.store.images import ImageStore


class _Families:
    """A collector that yields metric families read before the scrape is rendered."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> list[Metric]:
        return self._families


def _gauge(name: str, text: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, text, value=value)


@get("/metrics", include_in_schema=False, guards=[require_metrics_key])
async def metrics_page(
    redis: NamedDependency[ArqRedis],
    images: NamedDependency[ImageStore],
    gateway: NamedDependency[JobClient],
    api_metrics: NamedDependency[ApiMetrics],
) -> Response[bytes]:
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hgetall(keys.METRICS)
        pipe.zcard(redis.default_queue_name)
        pipe.zcount(keys.WORKERS, time.time() - keys.HEARTBEAT_FRESH, "+inf")
        pipe.zcard(keys.WEBHOOK_QUEUE)
        snapshot, depth, workers, deliveries = await pipe.execute()
    fleet = CollectorRegistry(auto_describe=False)
    fleet.register(
        _Families(
            [
                *metrics.families(snapshot),
                _gauge("imagegate_queue_depth", "Image jobs queued or running", depth),
                _gauge(
                    "imagegate_webhook_deliveries_pending",
                    "Webhook deliveries queued, waiting to be retried or running",
                    deliveries,
                ),
                _gauge("imagegate_workers", "Workers with a fresh heartbeat", workers),
                _gauge(
                    "imagegate_cached_bytes",
                    "Bytes of images in the cache",
                    await images.cached_bytes(),
                ),
                _gauge(
                    "imagegate_waiting_requests",
                    "Requests this api process holds open for a job",
                    gateway.waiting,
                ),
            ]
        )
    )
    body = generate_latest(api_metrics.registry) + generate_latest(fleet)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
