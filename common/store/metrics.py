"""Worker metrics kept in Redis, so any api process can show the whole fleet's at /metrics.

Workers add to counters in one hash (a field per series); the api turns a snapshot of it into
Prometheus metric families.
"""

from collections import defaultdict

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from redis.asyncio.client import Pipeline

from common.store import keys

DURATION_BUCKETS = (0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
_SEP = "\x1f"  # cannot appear in provider or model names read from the environment


def _field(*parts: str) -> str:
    return _SEP.join(parts)


def job_finished(pipe: Pipeline, provider: str, model: str, outcome: str, seconds: float) -> None:
    bucket = next((str(b) for b in DURATION_BUCKETS if seconds <= b), "+Inf")
    labels = (provider, model, outcome)
    pipe.hincrby(keys.METRICS, _field("job_bucket", *labels, bucket), 1)
    pipe.hincrbyfloat(keys.METRICS, _field("job_seconds", *labels), seconds)


def upstream_error(pipe: Pipeline, provider: str, status: str) -> None:
    pipe.hincrby(keys.METRICS, _field("upstream_error", provider, status), 1)


def failover(pipe: Pipeline, provider: str) -> None:
    pipe.hincrby(keys.METRICS, _field("failover", provider), 1)


def webhook_delivery(pipe: Pipeline, outcome: str) -> None:
    pipe.hincrby(keys.METRICS, _field("webhook", outcome), 1)


def families(snapshot: dict[bytes, bytes]) -> list[Metric]:
    """Prometheus families from a HGETALL of the metrics hash."""
    jobs = HistogramMetricFamily(
        "imagegate_job_duration_seconds",
        "Time from a job's start to its answer",
        labels=["provider", "model", "outcome"],
    )
    errors = CounterMetricFamily(
        "imagegate_upstream_errors",
        "Failed upstream calls by HTTP status",
        labels=["provider", "status"],
    )
    failovers = CounterMetricFamily(
        "imagegate_failovers", "Moves to the next key after a failure", labels=["provider"]
    )
    webhooks = CounterMetricFamily(
        "imagegate_webhook_deliveries",
        "Webhook delivery attempts by outcome (delivered, retry, failed, gave_up)",
        labels=["outcome"],
    )
    buckets: dict[tuple, dict[str, int]] = defaultdict(dict)
    sums: dict[tuple, float] = {}
    for raw_field, raw_value in snapshot.items():
        kind, *labels = raw_field.decode().split(_SEP)
        if kind == "job_bucket":
            buckets[tuple(labels[:3])][labels[3]] = int(raw_value)
        elif kind == "job_seconds":
            sums[tuple(labels)] = float(raw_value)
        elif kind == "upstream_error":
            errors.add_metric(labels, int(raw_value))
        elif kind == "failover":
            failovers.add_metric(labels, int(raw_value))
        elif kind == "webhook":
            webhooks.add_metric(labels, int(raw_value))
    for bucket_labels, counts in sorted(buckets.items()):
        cumulative, total = [], 0
        for bound in (*map(str, DURATION_BUCKETS), "+Inf"):
            total += counts.get(bound, 0)
            cumulative.append((bound, total))
        jobs.add_metric(list(bucket_labels), cumulative, sums.get(bucket_labels, 0.0))
    return [jobs, errors, failovers, webhooks]
