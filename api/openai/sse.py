"""The live progress stream of a chat completion.

Frames are written by hand rather than through Litestar's ServerSentEvent, which starts each
stream with a thread-pool hop: at thousands of streams that hop is the cost that matters.
Frames produced at the same moment go out as one chunk (one send, one write); progress goes
out as it happens.
"""

from collections.abc import AsyncIterator

from api.errors import error_body
from api.event_stream import Chunks, Last
from api.openai.chat_answer import ChunkWriter, usage_of
from common.answers import render
from common.schemas import Completed, Failed, JobEvent, Progress, Reasoning

PING_EVERY = 15.0


async def chat_stream(
    events: AsyncIterator[JobEvent | None], writer: ChunkWriter, base_url: str, include_usage: bool
) -> Chunks:
    """Role and "Queued", progress as reasoning, then the Markdown answer, stop, usage and
    [DONE] together; an error as a chunk before [DONE]."""
    yield writer.role() + writer.reasoning("⏳ Queued\n")
    end = b""  # set by the job's last event: the events end with Completed or Failed
    async for event in events:
        match event:
            case None:
                yield writer.PING
            case Progress(text):
                yield writer.reasoning(text + "\n")
            case Reasoning(text):
                yield writer.reasoning(text)
            case Completed(result):
                end = writer.content(render(result, base_url)) + writer.stop()
                if include_usage:
                    end += writer.usage(usage_of(result))
            case Failed(error):
                end = writer.error(error_body(error))
    yield Last(end + writer.DONE)
