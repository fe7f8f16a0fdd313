"""The live progress stream of a chat completion.

Frames are written by hand rather than through Litestar's ServerSentEvent, which starts each
stream with a thread-pool hop: at thousands of streams that hop is the cost that matters.
"""

import asyncio
from collections.abc import AsyncIterator

from api.jobs.wait import JobClient, timed_out
from api.openai.chat_answer import ChunkWriter, usage_of
from api.openai.markdown import render
from api.openai.wire import ErrorBody, ErrorDetail
from common.errors import ErrorInfo
from common.schemas import Completed, Failed, Progress, Reasoning

PING_EVERY = 15.0


def error_frame(writer: ChunkWriter, info: ErrorInfo) -> bytes:
    return writer.error(
        ErrorBody(
            ErrorDetail(message=info.message, type=info.type, param=info.param, code=info.code)
        )
    )


async def chat_stream(
    gateway: JobClient, job_id: str, writer: ChunkWriter, base_url: str, include_usage: bool
) -> AsyncIterator[bytes]:
    """Role, progress as reasoning, the Markdown answer, stop, usage, [DONE]; errors as a chunk."""
    yield writer.role()
    yield writer.reasoning("⏳ Queued\n")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + gateway.timeout
    async with gateway.follow(job_id) as follower:
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                yield error_frame(writer, timed_out(job_id, gateway.timeout).info())
                break
            event = await follower.next(min(PING_EVERY, remaining))
            if event is None:
                yield writer.PING
            elif isinstance(event, Progress):
                yield writer.reasoning(event.text + "\n")
            elif isinstance(event, Reasoning):
                yield writer.reasoning(event.text)
            elif isinstance(event, Completed):
                yield writer.content(render(event.result, base_url))
                yield writer.stop()
                if include_usage:
                    yield writer.usage(usage_of(event.result))
                break
            elif isinstance(event, Failed):
                yield error_frame(writer, event.error)
                break
    yield writer.DONE
