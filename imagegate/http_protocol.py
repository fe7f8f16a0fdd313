"""uvicorn's httptools protocol with the limits it lacks: request headers of at most 16 KB
(431 past it) and a deadline for reading them, so huge or slow headers cost nothing; and a
deadline for a body that still comes after its request was answered.

httptools keeps a header value it has not finished in memory whatever its size, and uvicorn
starts no timer before a request's first bytes: a 100 MB Authorization header was parsed in
full, and a client sending one byte a second held its connection forever. The bytes are
counted here before the parser sees them.

Each response's head goes out with its first body bytes, in one writev: uvicorn writes the
head alone, and every write to a loopback socket delivers its bytes and wakes the reader at
once, so a head of its own cost both sides a wake-up per response.

A request's body is kept as the pieces it came in: uvicorn appends each to a bytearray and
copies that again to hand it over, two copies of every byte of a 4 MB upload.

A request answered before its body was read whole (a 401 from a guard) leaves uvicorn reading
and dropping the rest, and each piece cancels its keep-alive timer: a client trickling that
body held the connection forever. Such a connection is closed at REQUEST_BODY_TIMEOUT from the
end of the headers; a body the app is still reading is its own deadline's (api/body_deadline.py).
"""

import asyncio
import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEADER_BYTES = 16 * 1024
_END = b"\r\n\r\n"


def _answer(status: int, reason: str, message: str, code: str) -> bytes:
    body = json.dumps(
        {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": None,
                "code": code,
            }
        }
    ).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


TOO_LARGE = _answer(
    431,
    "Request Header Fields Too Large",
    f"the request headers are larger than {MAX_HEADER_BYTES // 1024} KB",
    "request_header_fields_too_large",
)
TOO_SLOW = _answer(
    408, "Request Timeout", "the request headers did not arrive in time", "request_timeout"
)


def bounded_protocol(header_timeout: float, body_timeout: float) -> type[asyncio.Protocol]:
    """The protocol class uvicorn's `http=` takes, with the headers read within `header_timeout`
    and an answered request's body within `body_timeout` of them."""

    class BoundedHttpTools(_BoundedHttpTools):
        HEADER_TIMEOUT = header_timeout
        BODY_TIMEOUT = body_timeout

    return BoundedHttpTools


class _BoundedHttpTools(HttpToolsProtocol):
    HEADER_TIMEOUT = 10.0
    BODY_TIMEOUT = 60.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_timer: asyncio.TimerHandle | None = None
        self._late_body_timer: asyncio.TimerHandle | None = None
        self._body_due = 0.0
        self._body_done = True
        self._expect_headers()

    def on_body(self, body: bytes) -> None:
        if type(self.cycle.body) is bytearray:  # uvicorn's own: new, or emptied when handed over
            self.cycle.body = _Pieces()  # type: ignore[assignment]
        super().on_body(body)

    def _expect_headers(self) -> None:
        self._reading_headers = True
        self._header_bytes = 0
        self._tail = b""  # the end of the last piece: the blank line may straddle two
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.HEADER_TIMEOUT, self._too_slow)

    def _headers_done(self) -> None:
        self._reading_headers = False
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def data_received(self, data: bytes) -> None:
        if self._reading_headers:
            seen = self._tail + data
            end = seen.find(_END)
            self._header_bytes += len(data) if end < 0 else end + len(_END) - len(self._tail)
            if self._header_bytes > MAX_HEADER_BYTES:
                self._refuse(TOO_LARGE)
                return
            self._tail = seen[-3:]
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self._reading_headers:  # the next request on a kept-alive connection
            self._expect_headers()

    def on_headers_complete(self) -> None:
        self._headers_done()
        self._body_due = self.loop.time() + self.BODY_TIMEOUT
        self._body_done = False
        super().on_headers_complete()
        if self.cycle is not None and self.cycle.transport is self.transport:  # a new cycle
            self.cycle.transport = _HeadWithBody(self.transport, self.loop)

    def on_message_complete(self) -> None:
        self._body_done = True
        self._stop_late_body()
        answered = self.cycle.response_complete
        super().on_message_complete()
        # A late body's pieces cancelled uvicorn's keep-alive timer: the next request's headers
        # are due within HEADER_TIMEOUT instead.
        if answered:
            self._expect_headers()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        late = self.cycle.response_complete and not self._body_done
        if late and not self.transport.is_closing():
            self._late_body_timer = self.loop.call_at(self._body_due, self._cut_late_body)

    def connection_lost(self, exc: Exception | None) -> None:
        self._headers_done()
        self._stop_late_body()
        super().connection_lost(exc)

    def _stop_late_body(self) -> None:
        if self._late_body_timer is not None:
            self._late_body_timer.cancel()
            self._late_body_timer = None

    def _cut_late_body(self) -> None:
        self._late_body_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def _too_slow(self) -> None:
        self._header_timer = None
        if self._reading_headers:
            self._refuse(TOO_SLOW)

    def _refuse(self, answer: bytes) -> None:
        self._headers_done()
        if not self.transport.is_closing():
            self.transport.write(answer)
            self.transport.close()


class _Pieces:
    """What uvicorn's cycle does with a body, `body += piece`, `len(body)` and `bytes(body)`,
    on a list of pieces: they are joined once, and a lone piece is handed over as it came."""

    __slots__ = ("_pieces", "_size")

    def __init__(self) -> None:
        self._pieces: list[bytes] = []
        self._size = 0

    def __iadd__(self, piece: bytes) -> "_Pieces":
        self._pieces.append(piece)
        self._size += len(piece)
        return self

    def __len__(self) -> int:
        return self._size

    def __bytes__(self) -> bytes:
        return b"".join(self._pieces)


class _HeadWithBody(asyncio.Transport):
    """One response's view of its connection: the first write (uvicorn's head, at
    http.response.start) waits for the next one to go out with it, or for the end of the
    event loop's turn when no body comes in the same turn (a stream's first event)."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._head: bytes | None = None
        self._started = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._started:
            self._started = True
            self._head = bytes(data)
            self._loop.call_soon(self._send_head)
        elif self._head is not None:
            head, self._head = self._head, None
            self._transport.writelines((head, data))  # one writev under uvloop
        else:
            self._transport.write(data)

    def _send_head(self) -> None:
        if self._head is not None and not self._transport.is_closing():
            self._transport.write(self._head)
        self._head = None

    def close(self) -> None:
        self._send_head()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: object = None) -> object:
        return self._transport.get_extra_info(name, default)
