"""Failure classification shared by every adapter: error body shapes, statuses, Retry-After, redaction."""

import gzip
import zlib

import httpx
import pytest

from common.config.types import ProviderSpec
from tests.fakes.hostile import gzip_bomb
from worker.failover import secrets_of
from worker.upstream.http import (
    MAX_BODY,
    BodyTooLarge,
    Inflater,
    Reason,
    UpstreamFailure,
    answer_failure,
    capped_lines,
    error_details,
    retry_after,
)
from worker.upstream.redact import redact


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


def test_redaction_removes_keys_their_halves_urls_and_hosts():
    spec = ProviderSpec(
        name="p", kind="a1111", base_url="http://gpu.internal:7860", keys=("artist:hunter2-pass",)
    )
    text = "auth artist:hunter2-pass failed; password hunter2-pass at http://gpu.internal:7860/sdapi on gpu.internal"
    cleaned = redact(text, secrets_of(spec))
    assert "hunter2" not in cleaned and "gpu.internal" not in cleaned and "http" not in cleaned


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, 9)


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        ("gzip", _gzip(b"hello" * 5000)),
        ("gzip, gzip", _gzip(_gzip(b"hello" * 5000))),
        ("deflate", zlib.compress(b"hello" * 5000)),
        ("identity", b"hello" * 5000),
        ("", b"hello" * 5000),
    ],
)
def test_the_inflater_undoes_every_encoding_we_ask_for(encoding, body):
    inflater = Inflater(encoding, MAX_BODY)
    for start in range(0, len(body), 7):  # in pieces, as they come off the wire
        inflater.feed(body[start : start + 7])
    assert inflater.finish() == b"hello" * 5000


def test_the_inflater_stops_at_the_cap_counting_decoded_bytes():
    bomb = gzip_bomb(64 * 2**20)  # 64 MB of zeros in a few hundred bytes
    inflater = Inflater("gzip, gzip", 1_000_000)
    with pytest.raises(BodyTooLarge):
        inflater.feed(bomb)
    assert inflater._size <= 1_000_000 + 2**16  # it stopped within one step of the cap


@pytest.mark.parametrize("encoding", ["br", "zstd", "gzip, compress"])
def test_an_encoding_we_did_not_ask_for_is_refused(encoding):
    with pytest.raises(UpstreamFailure) as refused:
        Inflater(encoding, MAX_BODY)
    assert refused.value.reason is Reason.UNAVAILABLE


def test_a_broken_compressed_body_is_a_provider_error():
    with pytest.raises(UpstreamFailure) as refused:
        Inflater("gzip", MAX_BODY).feed(b"\x1f\x8b not really gzip")
    assert "broken compressed body" in refused.value.message


def test_redaction_strips_every_address_and_port():
    text = redact(
        "the renderer at 10.1.2.3:6379, internal-render.svc:8080, [fd00::7]:443, "
        "fe80::1, localhost:9000 and port 6380 refused 1024x1024 at 12:30:45 (ratio 16:9)"
    )
    for secret in ("10.1.2.3", "6379", "internal-render", "8080", "fd00", "fe80", "9000", "6380"):
        assert secret not in text
    assert "1024x1024" in text and "12:30:45" in text and "16:9" in text


async def test_a_refused_connection_is_not_reported_as_a_timeout():
    from httpx_aiohttp import AiohttpTransport

    from imagegate.redis_server import free_port
    from worker.upstream.http import Reason, UpstreamFailure, transport_errors

    async with httpx.AsyncClient(transport=AiohttpTransport()) as client:
        with pytest.raises(UpstreamFailure) as raised, transport_errors():
            await client.post(f"http://127.0.0.1:{free_port()}/v1/images/generations", json={})
    assert raised.value.reason is Reason.UNAVAILABLE
    assert raised.value.message == "the upstream refused the connection"


class _Wire(httpx.AsyncByteStream):
    """A body as it comes off the wire: raw pieces, still encoded."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    async def __aiter__(self):
        for start in range(0, len(self._body), 4096):
            yield self._body[start : start + 4096]


async def _lines(body: bytes, encoding: str, limit: int) -> list[str]:
    response = httpx.Response(200, headers={"content-encoding": encoding}, stream=_Wire(body))
    return [line async for line in capped_lines(response, limit)]


async def test_streamed_lines_are_inflated_and_split():
    events = b"data: one\r\n\r\ndata: two\n\ndata: [DONE]"
    assert await _lines(_gzip(events), "gzip", MAX_BODY) == [
        "data: one",
        "",
        "data: two",
        "",
        "data: [DONE]",
    ]


async def test_a_streamed_gzip_bomb_stops_at_the_cap():
    with pytest.raises(BodyTooLarge):
        await _lines(gzip_bomb(64 * 2**20), "gzip, gzip", 1_000_000)
