"""Upstream bodies within the cap: inflated as asked, refused past it, streamed lines split."""

import gzip
import zlib

import httpx
import pytest

from tests.fakes.hostile import gzip_bomb
from worker.upstream.bodies import MAX_BODY, BodyTooLarge, Inflater, capped_lines
from worker.upstream.failures import (
    Reason,
    UpstreamFailure,
)


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
