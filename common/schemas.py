"""What the api sends the worker (GenerateJob) and what comes back (JobEvent, JobResult).

Queued jobs and stored events outlive deploys: every field added later must have a default.
"""

import msgspec

from common.errors import ErrorInfo
from common.limits import (
    Background,
    Cfg,
    Compression,
    Moderation,
    OutputFormat,
    PromptText,
    Quality,
    Seed,
    Steps,
    Style,
    User,
)


class ImageOptions(msgspec.Struct, kw_only=True, frozen=True):
    """The image fields every generation route takes, validated once by the api (the request
    Structs inherit them) and carried as they are to the worker and its adapters."""

    seed: Seed | None = None
    negative_prompt: PromptText | None = None
    steps: Steps | None = None
    cfg: Cfg | None = None
    quality: Quality | None = None
    style: Style | None = None
    background: Background | None = None
    output_format: OutputFormat | None = None
    output_compression: Compression | None = None
    moderation: Moderation | None = None
    user: User | None = None


class AnswerSpec(msgspec.Struct, frozen=True, kw_only=True):
    """What a route needs besides the JobResult to build its answer, carried by the job."""

    route: str  # "chat", "images" or "edits"
    base_url: str  # of the request, for absolute image URLs
    response_format: str | None = None  # the Images API's


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
    options: ImageOptions = ImageOptions()
    enhance: bool = False
    # A chat stream: progress and the LLM's reasoning are shown as they come (an Images API
    # stream shows only its previews, so its jobs leave this off and write no progress).
    stream: bool = False
    previews: int = 0  # partial images per image a streaming client asked for
    notes: tuple[str, ...] = ()  # remarks from the api for the answer
    idempotency: tuple[str, str] | None = (
        None  # (Redis key, value) of the claim to free if the job fails
    )
    # An edit: the input images (PNG, JPEG or WebP, checked by the api) and the mask of the
    # first. They ride in the job record, so they expire with it and are never logged.
    images: tuple[bytes, ...] = ()
    mask: bytes | None = None
    input_fidelity: str | None = None

    # A job with a record (common/store/jobs.py): polled, cancellable, maybe called back; the
    # worker stores the route's answer built from this. Admission writes the record with the
    # job (api/jobs/admit.py), `webhook_url` in it: a refused job never has one.
    answer: AnswerSpec | None = None
    webhook_url: str | None = None

    def __repr__(self) -> str:  # a logged job never carries its input images
        return f"GenerateJob(id={self.id!r}, model={self.model!r}, images={len(self.images)})"


class ImageInfo(msgspec.Struct, frozen=True):
    """What an image's bytes say it is (worker/upstream/sniff.py reads them)."""

    content_type: str
    extension: str
    width: int
    height: int


class StoredImage(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    content_type: str
    extension: str
    width: int
    height: int
    expires: float = 0.0  # unix time the cache drops it (0: unknown, for records made before;
    # inf: kept for good)
    key: str = ""  # the object's key in the bucket (IMAGE_STORE=s3); empty: the bytes are in Redis
    size: int = 0  # bytes (0: unknown, for records made before)
    link: str = ""  # where answers link to instead of /image/{id} (S3_PUBLIC_BASE_URL)


class LlmTokens(msgspec.Struct, frozen=True, kw_only=True):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class ImageUsage(msgspec.Struct, frozen=True, kw_only=True):
    """Tokens an upstream reports for the images it made (OpenAI's GPT image models)."""

    input_tokens: int = 0
    output_tokens: int = 0
    text_tokens: int = 0  # of the input
    image_tokens: int = 0  # of the input

    def __add__(self, other: "ImageUsage") -> "ImageUsage":
        return ImageUsage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            text_tokens=self.text_tokens + other.text_tokens,
            image_tokens=self.image_tokens + other.image_tokens,
        )


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
    # What was made, as the upstream reported it (else as asked); size and format are each
    # image's own, read from its bytes.
    quality: str | None = None
    background: str | None = None
    image_usage: ImageUsage | None = None  # only when the upstream reports it


class Progress(msgspec.Struct, frozen=True, tag="progress"):
    text: str


class Reasoning(msgspec.Struct, frozen=True, tag="reasoning"):
    """A piece of the enhancement LLM's own reasoning, relayed as it arrives."""

    text: str


class Preview(msgspec.Struct, frozen=True, kw_only=True, tag="preview"):
    """A partial image the upstream showed while rendering image `image` of the job (capped in
    size and count by the worker; it lives in the job's events, no longer than the job)."""

    data: bytes = b""
    image: int = 0
    index: int = 0  # 0-based, per image
    output_format: str = "png"
    width: int = 0
    height: int = 0


class Completed(msgspec.Struct, frozen=True, tag="completed"):
    result: JobResult


class Failed(msgspec.Struct, frozen=True, tag="failed"):
    error: ErrorInfo


JobEvent = Progress | Reasoning | Preview | Completed | Failed

encode = msgspec.msgpack.Encoder().encode
decode_job = msgspec.msgpack.Decoder(GenerateJob).decode
decode_event = msgspec.msgpack.Decoder(JobEvent).decode
decode_result = msgspec.msgpack.Decoder(JobResult).decode
