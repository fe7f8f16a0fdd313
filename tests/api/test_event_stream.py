"""The streamed answer on the wire: a send per chunk, the last one ending the body, and a
client that leaves stopping the stream at once, wherever it waits."""

import asyncio

import pytest
from litestar import Litestar, get

from api.event_stream import Chunks, EventStream, Last


async def sent(chunks: Chunks) -> list[bytes]:
    """What a stream hands the response, checking that only its final chunk is `Last`."""
    out = [chunk async for chunk in chunks]
    assert isinstance(out[-1], Last) and not any(isinstance(c, Last) for c in out[:-1])
    return [*out[:-1], out[-1].chunk]


class Client:
    """One request to an app serving `chunks` on GET /s: the messages sent back, and a way to
    leave (what uvicorn's receive reports once the connection is gone)."""

    def __init__(self, chunks: Chunks) -> None:
        @get("/s")
        async def stream() -> EventStream:
            return EventStream(chunks)

        self.app = Litestar([stream])
        self.messages: list[dict] = []
        self.gone = asyncio.Event()

    async def receive(self) -> dict:
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict) -> None:
        self.messages.append(message)

    async def request(self) -> None:
        scope = {
            "type": "http",
            "method": "GET",
            "path": "/s",
            "raw_path": b"/s",
            "root_path": "",
            "query_string": b"",
            "headers": [],
            "http_version": "1.1",
            "scheme": "http",
            "server": ("testserver", 80),
            "client": ("client", 1),
        }
        await self.app(scope, self.receive, self.send)  # type: ignore[arg-type]

    def bodies(self) -> list[tuple[bytes, bool]]:
        return [(m["body"], m["more_body"]) for m in self.messages[1:]]


async def test_each_chunk_is_one_send_and_the_last_one_ends_the_body():
    async def chunks() -> Chunks:
        yield b"data: 1\n\n"
        yield Last(b"data: 2\n\ndata: [DONE]\n\n")

    client = Client(chunks())
    await client.request()
    start = client.messages[0]
    assert start["status"] == 200
    assert (b"content-type", b"text/event-stream; charset=utf-8") in start["headers"]
    assert (b"cache-control", b"no-cache") in start["headers"]
    assert client.bodies() == [(b"data: 1\n\n", True), (b"data: 2\n\ndata: [DONE]\n\n", False)]


async def test_a_stream_that_ends_without_a_last_chunk_still_ends_its_body():
    async def chunks() -> Chunks:
        yield b"data: 1\n\n"

    client = Client(chunks())
    await client.request()
    assert client.bodies() == [(b"data: 1\n\n", True), (b"", False)]


async def test_a_client_that_leaves_stops_the_stream_where_it_waits():
    closed = asyncio.Event()

    async def chunks() -> Chunks:
        try:
            yield b": ping\n\n"
            await asyncio.Event().wait()  # a job that never ends
            yield Last(b"never sent")
        finally:
            closed.set()

    client = Client(chunks())
    request = asyncio.create_task(client.request())
    await asyncio.sleep(0.01)
    client.gone.set()
    await asyncio.wait_for(request, 0.1)  # ends quietly: nobody is left to answer
    assert closed.is_set() and client.bodies() == [(b": ping\n\n", True)]


async def test_a_shutdown_cancelling_a_stream_is_not_taken_for_a_client_leaving():
    async def chunks() -> Chunks:
        yield b": ping\n\n"
        await asyncio.Event().wait()
        yield Last(b"")

    client = Client(chunks())
    request = asyncio.create_task(client.request())
    await asyncio.sleep(0.01)
    request.cancel()
    with pytest.raises(asyncio.CancelledError):
        await request


async def test_a_client_that_leaves_during_a_send_leaves_the_stream_closed():
    closed = asyncio.Event()

    async def chunks() -> Chunks:
        try:
            yield b": ping\n\n"
            yield Last(b"data: [DONE]\n\n")
        finally:
            closed.set()

    client = Client(chunks())
    stalled = asyncio.Event()

    async def slow_send(message: dict) -> None:
        client.messages.append(message)
        if message.get("more_body"):
            stalled.set()
            await asyncio.Event().wait()  # a client that stopped reading

    client.send = slow_send  # type: ignore[method-assign]
    request = asyncio.create_task(client.request())
    await stalled.wait()
    client.gone.set()
    await asyncio.wait_for(request, 0.1)
    assert closed.is_set() and client.bodies() == [(b": ping\n\n", True)]
