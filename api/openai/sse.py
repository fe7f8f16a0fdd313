"""The live progress stream of a chat completion.

Frames are written by hand rather than through Litestar's ServerSentEvent, which starts each
stream with a thread-pool hop: at thousands of streams that hop is the cost that matters.
"""

from collections.abc import AsyncIterator

from api.errors import error_body
from api.jobs.wait import JobClient
from api.openai.chat_answer import ChunkWriter, usage_of
from common.answers import render
from common.schemas import Completed, Failed, Progress, Reasoning

PING_EVERY = 15.0
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def chat_stream(
    gateway: JobClient, job_id: str, writer: ChunkWriter, base_url: str, include_usage: bool
) -> AsyncIterator[bytes]:
    """Role, progress as reasoning, the Markdown answer, stop, usage, [DONE]; errors as a chunk."""
    yield writer.role()
    yield writer.reasoning("⏳ Queued\n")
    async for event in gateway.events(job_id, PING_EVERY):
        match event:
            case None:
                yield writer.PING
            case Progress(text):
                yield writer.reasoning(text + "\n")
            case Reasoning(text):
                yield writer.reasoning(text)
            case Completed(result):
                yield writer.content(render(result, base_url))
                yield writer.stop()
                if include_usage:
                    yield writer.usage(usage_of(result))
            case Failed(error):
                yield writer.error(error_body(error))
    yield writer.DONE
