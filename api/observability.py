"""Every request gets an id (X-Request-ID, carried into the worker's logs), one log line and
its place in the api's Prometheus metrics."""

import logging
import re
import secrets
import time
from typing import cast

from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send
from prometheus_client import CollectorRegistry, Counter, Histogram

from common.logs import request_id

log = logging.getLogger("imagegate.api")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")


class ApiMetrics:
    """This api process's own metrics (the workers' come from Redis: common/store/metrics.py)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "imagegate_http_requests",
            "HTTP requests answered",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "imagegate_http_request_duration_seconds",
            "From request to the end of the answer (of the whole stream, when streaming)",
            ["route"],
            buckets=(0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300),
            registry=self.registry,
        )


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _REQUEST_ID.match(text) else None
    return None


def observe(app: ASGIApp, metrics: ApiMetrics) -> ASGIApp:
    async def observed(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await app(scope, receive, send)
        method = cast(HTTPScope, scope)["method"]
        rid = _incoming_id(scope) or secrets.token_hex(8)
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("path_template") or "unmatched"
            metrics.requests.labels(route, method, str(status)).inc()
            metrics.duration.labels(route).observe(elapsed)
            log.info(
                "%s %s %s",
                method,
                route,
                status,
                extra={"status": status, "duration_ms": round(elapsed * 1000)},
            )
            request_id.reset(token)

    return observed
