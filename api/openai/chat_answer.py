"""Chat completion objects and stream chunks, exactly as the OpenAI SDKs parse them."""

import time

import msgspec

from api.openai.wire import ChatCompletionChunk, ChunkChoice, CompletionUsage, Delta
from common.answers import completion, usage_of  # noqa: F401 (the chat answer's public names)

_encode = msgspec.json.Encoder().encode


class ChunkWriter:
    """SSE frames of one completion: same id and created on every chunk, each ending in a blank line."""

    def __init__(self, completion_id: str, model: str, include_usage: bool = False) -> None:
        self.id = completion_id
        self.model = model
        self._no_usage = None if include_usage else msgspec.UNSET
        self.created = int(time.time())

    def _frame(self, payload: object) -> bytes:
        return b"data: " + _encode(payload) + b"\n\n"

    def delta(self, delta: Delta, finish_reason: str | None = None) -> bytes:
        choice = ChunkChoice(delta=delta, finish_reason=finish_reason)
        return self._frame(
            ChatCompletionChunk(
                id=self.id,
                created=self.created,
                model=self.model,
                choices=[choice],
                usage=self._no_usage,
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
