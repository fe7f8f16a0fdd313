"""Reading an upstream's server-sent events: data joined, comments skipped, each event capped."""

import pytest

from worker.upstream.bodies import BodyTooLarge
from worker.upstream.events import event_data


async def chunks(*parts: bytes):
    for part in parts:
        yield part


async def read(*parts: bytes, limit: int = 1000) -> list[bytes]:
    return [data async for data in event_data(chunks(*parts), limit)]


async def test_events_split_across_chunks_and_line_endings_are_read_whole():
    stream = b'event: a\r\ndata: {"x":\r\ndata: 1}\r\n\r\n: ping\n\nevent: b\ndata: {"y": 2}\n\n'
    parts = [stream[i : i + 7] for i in range(0, len(stream), 7)]
    assert await read(*parts) == [b'{"x":\n1}', b'{"y": 2}']


async def test_a_last_event_without_its_blank_line_is_still_read():
    assert await read(b"data: {}\n") == [b"{}"]


async def test_an_event_past_the_limit_is_refused():
    with pytest.raises(BodyTooLarge):
        await read(b"data: " + b"x" * 2000)
