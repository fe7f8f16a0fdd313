"""Chat completion objects and stream chunks, exactly as the OpenAI SDKs parse them."""

import time

import msgspec

from api.openai.markdown import render
from api.openai.wire import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    Choice,
    ChunkChoice,
    CompletionUsage,
    Delta,
)
from common.schemas import JobResult

_encode = msgspec.json.Encoder().encode


def usage_of(result: JobResult | None) -> CompletionUsage:
    if result is None:
        return CompletionUsage()
    prompt, completion = result.usage.prompt_tokens, result.usage.completion_tokens
    return CompletionUsage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    )


def completion(completion_id: str, model: str, result: JobResult, base_url: str) -> ChatCompletion:
    return ChatCompletion(
        id=completion_id,
        created=int(time.time()),
        model=model,
        choices=[Choice(message=AssistantMessage(content=render(result, base_url)))],
        usage=usage_of(result),
    )


class ChunkWriter:
    """SSE frames of one completion: same id and created on every chunk, each ending in a blank line."""

    def __init__(self, completion_id: str, model: str) -> None:
        self.id = completion_id
        self.model = model
        self.created = int(time.time())

    def _frame(self, payload: object) -> bytes:
        return b"data: " + _encode(payload) + b"\n\n"

    def delta(self, delta: Delta, finish_reason: str | None = None) -> bytes:
        choice = ChunkChoice(delta=delta, finish_reason=finish_reason)
        return self._frame(
            ChatCompletionChunk(
                id=self.id, created=self.created, model=self.model, choices=[choice]
            )
        )

    def role(self) -> bytes:
        return self.delta(Delta(role="assistant", content=""))

    def reasoning(self, text: str) -> bytes:
        return self.delta(Delta(reasoning_content=text))

    def content(self, text: str) -> bytes:
        return self.delta(Delta(content=text))

    def stop(self) -> bytes:
        return self.delta(Delta(), finish_reason="stop")

    def usage(self, usage: CompletionUsage) -> bytes:
        return self._frame(
            ChatCompletionChunk(
                id=self.id, created=self.created, model=self.model, choices=[], usage=usage
            )
        )

    def error(self, body: object) -> bytes:
        return self._frame(body)

    PING = b": ping\n\n"
    DONE = b"data: [DONE]\n\n"
