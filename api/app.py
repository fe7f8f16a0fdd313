"""The Litestar application: `create_app(settings)` wires routes, auth, errors and resources."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import cast

import httpx
from arq.connections import ArqRedis
from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.types import ASGIApp, HTTPScope, Message, Receive, ReceiveMessage, Scope, Send

from api.auth import WrongKeyThrottle
from api.body_deadline import body_deadline
from api.bounded import BoundedRequest
from api.errors import EXCEPTION_HANDLERS
from api.jobs.uploads import MAX_JSON_BODY
from api.jobs.wait import JobClient
from api.observability import ApiMetrics, observe
from api.routes.chat import chat_completions
from api.routes.edits import images_edits
from api.routes.health import health
from api.routes.home import static_files, welcome
from api.routes.image_files import serve_image
from api.routes.images import images_generations
from api.routes.jobs import cancel_job, get_job, job_events, list_jobs
from api.routes.metrics import metrics_page
from api.routes.models import get_model, list_models
from common.config.types import Settings
from common.http_client import CookielessClient
from common.store.bulk_reader import BulkReader
from common.store.events import EventHub
from common.store.images import image_store
from common.store.redis import COMMAND_TIMEOUT, connect_to

# The reference page's assets are ours (api/static/schema): it must work with no internet.
_SWAGGER = SwaggerRenderPlugin(
    path="/",
    js_url="/static/schema/swagger-ui-bundle.js",
    css_url="/static/schema/swagger-ui.css",
    standalone_preset_js_url="/static/schema/swagger-ui-standalone-preset.js",
    favicon="<link rel='icon' type='image/svg+xml' href='/static/favicon.svg'>",
)


def _provide(name: str) -> Provide:
    def dependency(state: State):
        return state[name]

    return Provide(dependency, sync_to_thread=False)


def _resources(settings: Settings, redis: ArqRedis | None):
    """The lifespan: Redis clients, the event hub's subscription, the gateway and image store."""

    @contextlib.asynccontextmanager
    async def resources(app: Litestar) -> AsyncIterator[None]:
        client = redis or connect_to(settings)
        # The reader connects as the client's pool does: to REDIS_URL, or through Sentinel.
        bytes_in_redis = redis is None and settings.s3 is None
        pool = client.connection_pool
        reader = BulkReader(pool, timeout=COMMAND_TIMEOUT) if bytes_in_redis else None
        hub = EventHub(client)
        listener = asyncio.create_task(hub.run())
        app.state.redis = client
        app.state.images = image_store(settings, client, reader)
        app.state.gateway = JobClient(client, hub, settings, app.state.images)
        # For the input images of edits given as URLs (api/jobs/inputs.py), keeping no cookies
        # from one caller's fetch for the next.
        app.state.http = CookielessClient(timeout=httpx.Timeout(30.0, connect=10.0))
        try:
            yield
        finally:
            await app.state.http.aclose()
            hub.stop()
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(listener, 3)
            if redis is None:
                await client.aclose()
            await app.state.images.close()

    return resources


def create_app(settings: Settings, redis: ArqRedis | None = None) -> Litestar:
    """The api; `redis` is given when the caller owns an in-process Redis (imagegate serve
    without redis-server); otherwise it connects to REDIS_URL."""
    api_metrics = ApiMetrics()
    app = Litestar(
        route_handlers=[
            chat_completions,
            images_generations,
            images_edits,
            get_job,
            list_jobs,
            cancel_job,
            job_events,
            list_models,
            get_model,
            health,
            serve_image,
            metrics_page,
            welcome,
            static_files(),
        ],
        lifespan=[_resources(settings, redis)],
        state=State(
            {
                "settings": settings,
                "api_metrics": api_metrics,
                "auth_throttle": WrongKeyThrottle(settings.auth_failures_per_minute),
            }
        ),
        dependencies={
            name: _provide(name)
            for name in ("settings", "redis", "gateway", "images", "api_metrics")
        },
        exception_handlers=EXCEPTION_HANDLERS,
        cors_config=CORSConfig(
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "HEAD", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "Prefer"],
            # A browser script submitting a background job reads where to poll it.
            expose_headers=["Location", "Retry-After"],
        ),
        request_max_body_size=MAX_JSON_BODY,
        request_class=BoundedRequest,
        openapi_config=OpenAPIConfig(
            title="imagegate", version="0.1.0", path="/schema", render_plugins=[_SWAGGER]
        ),
        logging_config=None,
    )
    # Outside Litestar's own handler, so 404s, preflights and errors are observed too.
    bounded = body_deadline(answer_head(app.asgi_handler), settings.request_body_timeout)
    app.asgi_handler = observe(bounded, api_metrics)
    return app


def answer_head(app: ASGIApp) -> ASGIApp:
    """HEAD on every GET route: the GET answer's status and headers without its body. A
    streamed answer is told the client left once its headers are out, so it stops."""

    async def handler(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or cast(HTTPScope, scope)["method"] != "HEAD":
            return await app(scope, receive, send)
        started = False

        async def headers_only(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                await send(message)
                await send({"type": "http.response.body", "body": b"", "more_body": False})

        async def receive_until_sent() -> ReceiveMessage:
            return {"type": "http.disconnect"} if started else await receive()

        inner = cast(HTTPScope, {**scope, "method": "GET"})
        await app(inner, receive_until_sent, headers_only)
        # For the request log and the metrics, which read the outer scope.
        scope["path_template"] = inner.get("path_template", "")

    return handler
