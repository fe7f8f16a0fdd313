"""`deliver_webhook`: POST a job's final object to its webhook_url, signed per Standard Webhooks.

Each attempt is its own arq job in the deliveries' own queue (keys.WEBHOOK_QUEUE: retries
survive restarts, and never count as images waiting), run in the worker's delivery slots
(never a generation's). Any 2xx is delivered; a 3xx or another 4xx ends the delivery as
failed; a timeout, a connection error, 429 or 5xx is tried again after a backoff, up to
WEBHOOK_MAX_ATTEMPTS attempts. Receivers dedupe by `webhook-id`, the
same for every attempt.
"""

import datetime
import logging
from typing import cast

import httpx
import msgspec
from arq.connections import ArqRedis
from standardwebhooks.webhooks import Webhook

from common.net import origin, public_or_unresolved
from common.store import keys, metrics
from worker.services import Services

log = logging.getLogger("imagegate.webhooks")

# Seconds before attempt 2, 3, …; the last repeats. WEBHOOK_BACKOFF_SCALE shrinks it for tests.
BACKOFF = (5, 30, 120, 600, 1800, 3600)
TIMEOUT = 10.0
_encode = msgspec.json.Encoder().encode


async def deliver_webhook(ctx: dict, job_id: str, attempt: int) -> None:
    services: Services = ctx["services"]
    settings = services.settings
    record = await services.jobs.load(job_id)
    secret = settings.webhook_secret
    if record is None or not record.meta.webhook_url or not secret:
        return  # the job expired, or the gateway no longer signs: nothing to send
    url = record.meta.webhook_url
    body = _encode(record.view(record.meta.base_url)).decode()
    outcome = await _attempt(services, secret, url, f"msg_{job_id}", body)
    if outcome == "retry" and attempt >= settings.webhook_max_attempts:
        outcome = "gave_up"
    log.info(
        "webhook delivery",
        extra={"job_id": job_id, "attempt": attempt, "outcome": outcome},
    )
    async with services.redis.pipeline(transaction=False) as pipe:
        metrics.webhook_delivery(pipe, outcome)
        await pipe.execute()
    if outcome == "retry":
        delay = BACKOFF[min(attempt, len(BACKOFF)) - 1] * settings.webhook_backoff_scale
        # The worker's client is arq's (ctx["redis"]), with imagegate's serializer.
        await cast(ArqRedis, services.redis).enqueue_job(
            "deliver_webhook",
            job_id,
            attempt + 1,
            _job_id=keys.webhook_delivery(job_id, attempt + 1),
            _queue_name=keys.WEBHOOK_QUEUE,
            _defer_by=delay,
        )


async def _attempt(services: Services, secret: str, url: str, message_id: str, body: str) -> str:
    """One POST: "delivered", "failed" (not worth retrying) or "retry"."""
    allowed = await _allowed(url, services.settings.webhook_allow_hosts)
    if allowed is not True:
        return "failed" if allowed is False else "retry"
    timestamp = datetime.datetime.now(tz=datetime.UTC)
    signature = Webhook(secret).sign(message_id, timestamp, body)
    headers = {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature,
    }
    try:
        # The answer's body is never read: only its status counts.
        async with services.http.stream(
            "POST", url, content=body, headers=headers, timeout=TIMEOUT, follow_redirects=False
        ) as response:
            status = response.status_code
    except httpx.HTTPError as exc:  # a timeout or a connection error: the receiver may recover
        log.info("webhook receiver unreachable (%s)", type(exc).__name__)
        return "retry"
    if 200 <= status < 300:
        return "delivered"
    return "retry" if status == 429 or status >= 500 else "failed"


async def _allowed(url: str, allow_hosts: tuple[str, ...]) -> bool | None:
    """Checked again at each attempt: the name may resolve elsewhere since the request came.
    None: it does not resolve now."""
    scheme, host, port = origin(url)
    if scheme not in ("http", "https") or not host:
        return False
    if host in allow_hosts:
        return True
    return await public_or_unresolved(host, port)
