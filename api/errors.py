"""Every error leaves the api in the OpenAI shape, with Retry-After and x-should-retry where due."""

import difflib
import logging
import re

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ExceptionHandlersMap
from redis.exceptions import RedisError

from api.openai.wire import ErrorBody, ErrorDetail
from common.errors import ErrorInfo, ImagegateError, ServiceUnavailable

log = logging.getLogger("imagegate.api")

_MISSING_FIELD = re.compile(r"Object missing required field `([^`]+)`")

# Litestar's own exceptions (routing, body limit, validation) by status.
_HTTP_ERRORS = {
    400: ("invalid_request_error", "invalid_value"),
    401: ("authentication_error", "invalid_api_key"),
    404: ("invalid_request_error", "not_found"),
    405: ("invalid_request_error", "method_not_allowed"),
    413: ("invalid_request_error", "request_too_large"),
    415: ("invalid_request_error", "unsupported_media_type"),
}


class JobFailed(ImagegateError):
    """A failure reported by the worker, re-raised in the api process that waited for it."""

    def __init__(self, info: ErrorInfo) -> None:
        super().__init__(info.message)
        self._info = info

    def info(self) -> ErrorInfo:
        return self._info


def error_body(info: ErrorInfo) -> ErrorBody:
    """The OpenAI error object for `info`: an HTTP answer's body, or a stream's error event."""
    return ErrorBody(
        ErrorDetail(message=info.message, type=info.type, param=info.param, code=info.code)
    )


def error_response(info: ErrorInfo) -> Response[ErrorBody]:
    headers = {}
    if info.retry_after is not None:
        headers["Retry-After"] = str(info.retry_after)
    if info.should_retry is False:
        headers["x-should-retry"] = "false"
    return Response(error_body(info), status_code=info.status, headers=headers)


def on_gateway_error(_: Request, exc: ImagegateError) -> Response[ErrorBody]:
    return error_response(exc.info())


def on_http_exception(request: Request, exc: HTTPException) -> Response[ErrorBody]:
    error_type, code = _HTTP_ERRORS.get(exc.status_code, ("invalid_request_error", None))
    if exc.status_code >= 500:
        return on_unexpected(request, exc)
    message, param = _describe(exc)
    if exc.status_code == 404 and (known := _known_route(request.url.path)):
        message = f"no such route; the route is {known} (see /schema for the API)"
    return error_response(
        ErrorInfo(status=exc.status_code, type=error_type, code=code, message=message, param=param)
    )


def on_redis_error(request: Request, exc: Exception) -> Response[ErrorBody]:
    """Redis failing under any route (/image and /metrics read it directly): 503, never 500."""
    log.warning(
        "Redis is unavailable on %s %s (%s)", request.method, request.url.path, type(exc).__name__
    )
    return error_response(
        ServiceUnavailable("Redis is unavailable; try again shortly", retry_after=5).info()
    )


def on_unexpected(request: Request, exc: Exception) -> Response[ErrorBody]:
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    info = ErrorInfo(
        status=500, type="server_error", code="internal_error", message="internal error"
    )
    return error_response(info)


# The OpenAI routes clients guess at: a wrong path near one of them is told which exists.
_OPENAI_ROUTES = (
    "/v1/chat/completions",
    "/v1/images/generations",
    "/v1/images/edits",
    "/v1/models",
    "/v1/jobs",
)


def _known_route(path: str) -> str | None:
    """The route a wrong path was meant for: a part of it (`/v1/chat`), it behind a prefix
    (`/api/v1/chat/completions`), or one typo away (`/v1/chat/completion`)."""
    path = "/" + path.strip("/")
    for route in _OPENAI_ROUTES:
        bare = route.removeprefix("/v1")
        if (route.startswith(path) and len(path) > 3) or path.endswith(bare):
            return route
    close = difflib.get_close_matches(path, _OPENAI_ROUTES, n=1, cutoff=0.85)
    return close[0] if close else None


def _describe(exc: HTTPException) -> tuple[str, str | None]:
    if exc.status_code == 404:
        return "no such route; see /schema for the API", None
    if exc.status_code == 405:
        return "this route does not take that method", None
    if exc.status_code == 413:
        return "the request body is larger than 1 MB", None
    if isinstance(exc, ValidationException) and isinstance(exc.extra, list) and exc.extra:
        first = exc.extra[0]
        param, message = first.get("key"), first["message"]
        if missing := _MISSING_FIELD.match(message):  # name the field itself, not its parent
            param = missing.group(1) if param in (None, "data") else f"{param}.{missing.group(1)}"
        if param and param != "data":
            return f"{param}: {message}", param
        return "the request body must be a JSON object", None
    return "the request body is not valid JSON", None


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    ImagegateError: on_gateway_error,
    HTTPException: on_http_exception,
    # redis-py's errors, and the bulk reader's ConnectionError and TimeoutError.
    RedisError: on_redis_error,
    OSError: on_redis_error,
    Exception: on_unexpected,
}
