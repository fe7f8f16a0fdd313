"""Failure classification shared by every adapter: error body shapes, statuses, Retry-After,
and transport errors."""

import httpx
import pytest

from imagegate.redis_server import free_port
from worker.upstream.client import UpstreamClient
from worker.upstream.failures import (
    Reason,
    UpstreamFailure,
    answer_failure,
    error_details,
    retry_after,
)
from worker.upstream.http import post_json


@pytest.mark.parametrize(
    ("body", "details"),
    [
        (
            b'{"error": {"message": "Bad key", "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}}',
            ("Bad key", "invalid_api_key"),
        ),
        (
            b'{"error": {"message": "Over quota", "type": "insufficient_quota", "param": null, "code": null}}',
            ("Over quota", "insufficient_quota"),
        ),
        (b'"Invalid token"', ("Invalid token", None)),
        (
            b'{"code": 20012, "message": "Model does not exist.", "data": null}',
            ("Model does not exist.", "20012"),
        ),
        (
            b'{"result": null, "success": false, "errors": [{"code": 3036, "message": "daily"}], "messages": []}',
            ("daily", "3036"),
        ),
        (b'{"success": false, "error": "Insufficient points"}', ("Insufficient points", None)),
        (
            b'{"error": "OutOfMemoryError", "detail": "CUDA out of memory", "body": "", "errors": ""}',
            ("OutOfMemoryError: CUDA out of memory", None),
        ),
        (
            b'{"detail": [{"loc": ["body", "x"], "msg": "field required", "type": "value_error"}]}',
            ("field required", None),
        ),
        (b"404 page not found", ("404 page not found", None)),
        (b"", ("", None)),
        (b"[1, 2]", ("", None)),
    ],
)
def test_error_details_reads_every_shape(body, details):
    assert error_details(body) == details


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (502, b"<html><head><title>502 Bad Gateway</title></head></html>", Reason.UNAVAILABLE),
        (200, b"<!DOCTYPE html><html><body>Just a moment...</body></html>", Reason.BLOCKED),
        (402, b'{"message": "Payment required"}', Reason.QUOTA),
        (
            400,
            b'{"error": {"message": "Billing hard limit has been reached", "type": "invalid_request_error", "code": "billing_hard_limit_reached"}}',
            Reason.QUOTA,
        ),
        (451, b'{"message": "Unavailable for legal reasons"}', Reason.BLOCKED),
        (200, b'{"success": false, "error": "Rate limit exceeded, slow down"}', Reason.RATE),
        (200, b'{"success": false, "error": "Invalid API key"}', Reason.KEY),
        (
            500,
            b'{"message": "insufficient balance service down"}',
            Reason.UNAVAILABLE,
        ),  # a 5xx never benches a key
        (
            429,
            b'{"error": {"message": "Quota exceeded for requests per minute", "code": 429}}',
            Reason.RATE,
        ),
        (422, b'{"detail": [{"msg": "value is not a valid integer"}]}', Reason.CONFIG),
    ],
)
def test_answer_failure_by_status_and_words(status, body, reason):
    assert answer_failure(status, body).reason is reason


def test_an_upstream_code_can_stand_for_another_status():
    body = b'{"success": false, "errors": [{"code": 3036, "message": "allocation used"}]}'
    assert answer_failure(200, body, meaning={"3036": 402}).reason is Reason.QUOTA


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after": "Wed, 21 Oct 2026 07:28:00 GMT"}, None),
        ({}, None),
    ],
)
def test_retry_after(headers, seconds):
    assert retry_after(httpx.Headers(headers)) == seconds


async def test_a_refused_connection_is_not_reported_as_a_timeout():
    async with UpstreamClient() as client:
        with pytest.raises(UpstreamFailure) as raised:
            await post_json(client, f"http://127.0.0.1:{free_port()}/v1/images/generations", {})
    assert raised.value.reason is Reason.UNAVAILABLE
    assert raised.value.message == "the upstream refused the connection"
