"""Reading an upstream's server-sent events (OpenAI's streamed images), each event capped."""

import contextlib
from collections.abc import AsyncIterator

from worker.upstream.bodies import MAX_BODY, BodyTooLarge, inflated, read_capped
from worker.upstream.client import UpstreamClient
from worker.upstream.http import open_form, open_json

MAX_STREAM = 8 * MAX_BODY


@contextlib.asynccontextmanager
async def post_for_events(
    client: UpstreamClient,
    url: str,
    body: dict,
    *,
    headers: dict[str, str],
    files: list[tuple[str, tuple[str, bytes, str]]] | None = None,
) -> AsyncIterator[AsyncIterator[bytes]]:
    """POST `body` as JSON (or, with `files`, as the text fields of a multipart form); yield
    an iterator over the data of each event of the 200 answer (a server that answers plain
    JSON instead gives its whole body as one event), or raise the failure any other status
    means. Transport errors while reading are failures too."""
    headers = {**headers, "Accept": "text/event-stream"}
    opened = (
        open_form(client, url, body, files, headers=headers)
        if files is not None
        else open_json(client, url, body, headers=headers)
    )
    async with opened as response:
        if "text/event-stream" in response.headers.get("content-type", ""):
            # A stream carries previews and images: capped as a whole at a few bodies' worth.
            yield event_data(inflated(response, MAX_STREAM))
        else:
            yield _once(await read_capped(response))


async def _once(body: bytes) -> AsyncIterator[bytes]:
    yield body


async def event_data(chunks: AsyncIterator[bytes], limit: int = MAX_BODY) -> AsyncIterator[bytes]:
    """The `data` of each event (its data lines joined by newlines); comments and other fields
    are skipped. No event may pass `limit` bytes: one image's base64 is at most a body's cap."""
    buffer = b""
    async for chunk in chunks:
        buffer += chunk.replace(b"\r\n", b"\n")
        while (end := buffer.find(b"\n\n")) >= 0:
            block, buffer = buffer[:end], buffer[end + 2 :]
            data = [
                line[5:].removeprefix(b" ") for line in block.split(b"\n") if line[:5] == b"data:"
            ]
            if data:
                yield b"\n".join(data)
        if len(buffer) > limit:
            raise BodyTooLarge()
    if buffer.strip():  # a last event the server did not end with a blank line
        data = [line[5:].removeprefix(b" ") for line in buffer.split(b"\n") if line[:5] == b"data:"]
        if data:
            yield b"\n".join(data)
