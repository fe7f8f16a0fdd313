"""Reading upstream bodies within a cap, counted both as sent and as inflated (gzip and
deflate inflated here, piece by piece, so a small compressed answer cannot grow past it)."""

import zlib
from collections.abc import AsyncIterator

import httpx

from worker.upstream.failures import Reason, UpstreamFailure

MAX_BODY = 20 * 1024 * 1024


class BodyTooLarge(UpstreamFailure):
    def __init__(self) -> None:
        super().__init__(
            Reason.UNUSABLE, f"the upstream answer is larger than {MAX_BODY // 2**20} MB"
        )


# What we ask upstreams for, and so all we inflate: anything else is refused, not decoded.
ACCEPT_ENCODING = "gzip, deflate"
_INFLATE_PIECE = 1 << 16  # no single inflate step makes more than this many bytes


async def read_capped(response: httpx.Response, limit: int = MAX_BODY) -> bytes:
    """The body of a streamed response, refusing to hold more than `limit` bytes, counted both
    as they arrive (compressed) and as they are inflated: a 2 KB gzip bomb stops at the cap."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge()
    if response.is_stream_consumed:  # a body built in memory (httpx.MockTransport): no wire
        if len(response.content) > limit:
            raise BodyTooLarge()
        return response.content
    inflater = Inflater(response.headers.get("content-encoding", ""), limit)
    received = 0
    async for chunk in response.aiter_raw():
        received += len(chunk)
        if received > limit:
            raise BodyTooLarge()
        inflater.feed(chunk)
    return inflater.finish()


async def capped_lines(response: httpx.Response, limit: int = MAX_BODY) -> AsyncIterator[str]:
    """The lines of a streamed answer (SSE), under the same cap as read_capped: httpx's own
    aiter_lines inflates whatever a chunk holds before anyone counts."""
    pending = b""
    async for piece in inflated(response, limit):
        *lines, pending = (pending + piece).split(b"\n")
        for line in lines:
            yield line.rstrip(b"\r").decode(errors="replace")
    if pending:
        yield pending.rstrip(b"\r").decode(errors="replace")


async def inflated(response: httpx.Response, limit: int = MAX_BODY) -> AsyncIterator[bytes]:
    """A streamed answer's decoded bytes, piece by piece as they arrive, each inflate step
    bounded and the whole stream capped at `limit` (in and out) — what httpx's aiter_bytes
    does without the bounds."""
    if response.is_stream_consumed:  # a body built in memory (httpx.MockTransport)
        yield await read_capped(response, limit)
        return
    inflater = Inflater(response.headers.get("content-encoding", ""), limit)
    received = 0
    async for chunk in response.aiter_raw():
        received += len(chunk)
        if received > limit:
            raise BodyTooLarge()
        inflater.feed(chunk)
        if piece := inflater.take():
            yield piece


class Inflater:
    """Undoes a chain of gzip/deflate encodings in bounded steps, failing the moment the
    decoded size passes `limit` (httpx's own decoders inflate a whole chunk at once)."""

    def __init__(self, content_encoding: str, limit: int) -> None:
        names = [name.strip().lower() for name in content_encoding.split(",")]
        names = [name for name in names if name and name != "identity"]
        if any(name not in ("gzip", "x-gzip", "deflate") for name in names):
            raise UpstreamFailure(
                Reason.UNAVAILABLE, "the upstream answered in a content encoding we did not ask for"
            )
        # Encodings are listed in the order they were applied: undo them last first. wbits 47
        # reads a gzip or a zlib header alike.
        self._stages = [zlib.decompressobj(47) for _ in names]
        self._limit = limit
        self._size = 0
        self._pieces: list[bytes] = []

    def feed(self, data: bytes) -> None:
        try:
            self._feed(0, data)
        except zlib.error as exc:
            raise UpstreamFailure(
                Reason.UNAVAILABLE, "the upstream answered with a broken compressed body"
            ) from exc

    def _feed(self, stage: int, data: bytes) -> None:
        if stage == len(self._stages):
            self._size += len(data)
            if self._size > self._limit:
                raise BodyTooLarge()
            self._pieces.append(data)
            return
        inflate = self._stages[stage]
        while data:
            out = inflate.decompress(data, _INFLATE_PIECE)
            data = inflate.unconsumed_tail
            self._feed(stage + 1, out)
            if len(out) == _INFLATE_PIECE and not data:  # output may still be pending
                data = b""
                while len(out) == _INFLATE_PIECE:
                    out = inflate.decompress(b"", _INFLATE_PIECE)
                    self._feed(stage + 1, out)

    def take(self) -> bytes:
        """What was inflated since the last take (the total stays counted against the cap)."""
        taken, self._pieces = b"".join(self._pieces), []
        return taken

    def finish(self) -> bytes:
        return b"".join(self._pieces)
