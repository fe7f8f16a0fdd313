"""What the api sends the worker (GenerateJob) and what comes back (JobEvent, JobResult).

Queued jobs and stored events outlive deploys: every field added later must have a default.
"""

import msgspec

from common.errors import ErrorInfo


class GenerateJob(msgspec.Struct, kw_only=True, frozen=True):
    id: str
    request_id: str
    model: str
    prompt: str  # what goes upstream, flags and ratio text removed
    original: str  # the user's input as typed
    n: int = 1
    width: int | None = None  # explicit size from the request, already validated
    height: int | None = None
    ratio: str | None = None  # ratio found in the prompt
    seed: int | None = None
    negative_prompt: str | None = None
    steps: int | None = None
    cfg: float | None = None
    quality: str | None = None
    style: str | None = None
    enhance: bool = False
    stream: bool = False  # the client watches progress: stream the LLM's reasoning too
    notes: tuple[str, ...] = ()  # remarks from the api for the answer
    idempotency: tuple[str, str] | None = (
        None  # (Redis key, value) of the claim to free if the job fails
    )


class StoredImage(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    content_type: str
    extension: str
    width: int
    height: int
    expires: float = 0.0  # unix time the cache drops it (0: unknown, for records made before)


class LlmTokens(msgspec.Struct, frozen=True, kw_only=True):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class JobResult(msgspec.Struct, frozen=True, kw_only=True):
    images: tuple[StoredImage, ...]
    model: str
    prompt: str  # the prompt the upstream received
    original: str
    enhanced: bool = False
    ratio: str | None = None
    seed: int | None = None  # only when the upstream honours seeds
    notes: tuple[str, ...] = ()
    usage: LlmTokens = LlmTokens()
    enhance_failure: str | None = None  # why the configured LLM could not enhance the prompt


class Progress(msgspec.Struct, frozen=True, tag="progress"):
    text: str


class Reasoning(msgspec.Struct, frozen=True, tag="reasoning"):
    """A piece of the enhancement LLM's own reasoning, relayed as it arrives."""

    text: str


class Completed(msgspec.Struct, frozen=True, tag="completed"):
    result: JobResult


class Failed(msgspec.Struct, frozen=True, tag="failed"):
    error: ErrorInfo


JobEvent = Progress | Reasoning | Completed | Failed

encode = msgspec.msgpack.Encoder().encode
decode_job = msgspec.msgpack.Decoder(GenerateJob).decode
decode_event = msgspec.msgpack.Decoder(JobEvent).decode
decode_result = msgspec.msgpack.Decoder(JobResult).decode
