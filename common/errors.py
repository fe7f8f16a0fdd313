"""The gateway's error tree: each class fixes an HTTP status and an OpenAI error type.

ImagegateError            any failure we report to a client; carries status, type, code, param
├── InvalidRequest      400: the client's input is wrong (names the `param`)
│   └── ContentRejected 400: an upstream refused the prompt (safety, policy); never retried
├── AuthenticationFailed 401: no or wrong gateway key
├── NotFound            404: unknown model, route or image
├── BodyTimeout         408: the request body did not arrive within REQUEST_BODY_TIMEOUT
├── JobFinished         409: cancelling a job that already ended (or that was cancelled)
├── RequestTooLarge     413: an upload past MAX_UPLOAD_BYTES
├── IdempotencyKeyReused 422: same Idempotency-Key, different body
├── RateLimited         429: our limit, or every upstream key rate limited
├── ClientClosedRequest 499: the client left before its answer (nginx's code; nobody reads it)
├── UpstreamFailed      502: every key failed, the upstream rejected our configuration, or the
│   │                        enhancement LLM gave no prompt (then the user's prompt is used)
│   └── StorageUnavailable 502: the image bucket (IMAGE_STORE=s3) failed to store or serve
├── ServiceUnavailable  503: Redis, the queue or the cache cannot take work now
│   └── StoreFailed     503: a job's result could not be stored; the upstream is not paid again
├── RequestTimeout      504: the wait passed REQUEST_TIMEOUT
└── JobFailed           any: a worker's error, rebuilt in the api from its ErrorInfo
                             (api/errors.py: only the api raises it)

Errors cross from the worker to the api as `ErrorInfo` inside job events. Litestar's own 404,
405, 413 and validation errors are mapped to the same shape in api/errors.py.

Three exceptions live outside the tree because no client ever sees them:
- UpstreamFailure (worker/upstream/failures.py), and its BodyTooLarge (bodies.py): one
  upstream attempt gave no image; its `reason` tells the failover loop (worker/failover.py) whether another key may
  help. The loop turns the last one into an UpstreamFailed, RateLimited or ContentRejected.
- ConfigError (common/config/load.py): the configuration is wrong; the process does not start.
- CannotListen (imagegate/processes.py): the api's address cannot be bound; the process stops.
"""

from typing import ClassVar

import msgspec


class ErrorInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What a client is told: enough to rebuild the HTTP answer in any api process."""

    status: int
    type: str
    code: str | None
    message: str
    param: str | None = None
    retry_after: int | None = None
    should_retry: bool | None = None


class ImagegateError(Exception):
    status: ClassVar[int] = 500
    type: ClassVar[str] = "server_error"
    default_code: ClassVar[str | None] = "internal_error"
    # The OpenAI SDKs retry 5xx and 429 unless told not to: we say so where a retry
    # would pay the upstream again or cannot help.
    should_retry: ClassVar[bool | None] = None

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.param = param
        self.retry_after = retry_after

    def info(self) -> ErrorInfo:
        return ErrorInfo(
            status=self.status,
            type=self.type,
            code=self.code,
            message=self.message,
            param=self.param,
            retry_after=self.retry_after,
            should_retry=self.should_retry,
        )


class InvalidRequest(ImagegateError):
    status = 400
    type = "invalid_request_error"
    default_code = "invalid_value"


class ContentRejected(InvalidRequest):
    default_code = "content_policy_violation"
    should_retry = False


class AuthenticationFailed(ImagegateError):
    status = 401
    type = "authentication_error"
    default_code = "invalid_api_key"


class NotFound(ImagegateError):
    status = 404
    type = "invalid_request_error"
    default_code = "not_found"


class BodyTimeout(ImagegateError):
    status = 408
    type = "invalid_request_error"
    default_code = "request_timeout"


class RequestTooLarge(ImagegateError):
    status = 413
    type = "invalid_request_error"
    default_code = "request_too_large"


class JobFinished(ImagegateError):
    status = 409
    type = "invalid_request_error"
    default_code = "job_finished"


class IdempotencyKeyReused(ImagegateError):
    status = 422
    type = "invalid_request_error"
    default_code = "idempotency_key_reused"


class RateLimited(ImagegateError):
    status = 429
    type = "rate_limit_error"
    default_code = "rate_limit_exceeded"


class ClientClosedRequest(ImagegateError):
    status = 499
    type = "client_closed_request"
    default_code = "client_closed_request"


class UpstreamFailed(ImagegateError):
    status = 502
    type = "upstream_error"
    default_code = "upstream_failed"
    should_retry = False


class StorageUnavailable(UpstreamFailed):
    default_code = "storage_unavailable"


class ServiceUnavailable(ImagegateError):
    status = 503
    type = "service_unavailable"
    default_code = "redis_unavailable"


class StoreFailed(ServiceUnavailable):
    should_retry = False  # the job ran and was paid for: an SDK retry would pay again


class RequestTimeout(ImagegateError):
    status = 504
    type = "timeout"
    default_code = "request_timeout"
    should_retry = False
