"""The OpenAI wire format imagegate speaks: requests it reads and answers it writes."""

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

# The answers are shared with the worker, which renders background jobs' results.
from common.answers import (  # noqa: F401 (the wire format's public names)
    AssistantMessage,
    ChatCompletion,
    Choice,
    CompletionUsage,
    ImageData,
    ImagesResponse,
    ImagesUsage,
    InputTokensDetails,
)
from common.limits import Count, PartialImages, ResponseFormat, Side
from common.schemas import ImageOptions


class ImageUrl(msgspec.Struct, kw_only=True, frozen=True):
    url: str
    detail: str | None = None


class ContentPart(msgspec.Struct, kw_only=True):
    type: str = "text"
    text: str | None = None
    image_url: ImageUrl | str | None = None  # an input image: a data: URI or a URL


class ChatMessage(msgspec.Struct, kw_only=True):
    role: str
    content: str | list[ContentPart] | None = None


class StreamOptions(msgspec.Struct, kw_only=True):
    include_usage: bool = False


class GenerationOptions(ImageOptions, kw_only=True, frozen=True):
    """The fields both generation routes take (chat clients send them via `extra_body`): the
    job's ImageOptions, and what the api resolves itself (model, size, n, enhancement)."""

    model: str | None = None
    size: str | None = None
    width: Side | None = None
    height: Side | None = None
    n: Count = 1
    enhance: bool | None = None
    webhook_url: Annotated[str, Meta(max_length=2048)] | None = None  # called when the job ends


class ChatCompletionRequest(GenerationOptions, kw_only=True, frozen=True):
    messages: list[ChatMessage] = []  # bounded by the 1 MB body limit; clients send whole histories
    prompt: str | None = None  # accepted when there are no messages
    stream: bool = False
    stream_options: StreamOptions | None = None


class ImageGenerationRequest(GenerationOptions, kw_only=True, frozen=True):
    """The OpenAI Images API body; `seed`, `negative_prompt`, `enhance`… are our extras."""

    prompt: str = ""  # required, but checked by the route so the error names `prompt`
    response_format: ResponseFormat | None = None
    stream: bool = False
    partial_images: PartialImages = 0


class ImageRef(msgspec.Struct, kw_only=True, frozen=True):
    """An input image of the JSON edit form: a URL (http(s) or `data:`), or a Files API id."""

    image_url: str | None = None
    file_id: str | None = None  # refused: there is no Files API here


class ImageEditRequest(ImageGenerationRequest, kw_only=True, frozen=True):
    """/v1/images/edits: the generation fields, the input images and a mask of the first.

    Multipart bodies carry the images as file parts; their text parts are converted to this."""

    images: list[ImageRef] = []
    mask: ImageRef | None = None
    input_fidelity: Literal["high", "low"] | None = None


class _StreamedImage(msgspec.Struct, kw_only=True):
    """What every image event of a stream carries."""

    type: str
    b64_json: msgspec.Raw  # common/answers.py base64_json's
    created_at: int
    size: str
    quality: str
    background: str
    output_format: str


class ImagePartialEvent(_StreamedImage, kw_only=True):
    """`image_generation.partial_image` (or `image_edit.partial_image`) of a stream."""

    partial_image_index: int


class ImageCompletedEvent(_StreamedImage, kw_only=True):
    """`image_generation.completed` (or `image_edit.completed`): one per image."""

    usage: ImagesUsage


class Delta(msgspec.Struct, omit_defaults=True):
    role: str | None = None
    content: str | None = None
    reasoning_content: str | None = None


class ChunkChoice(msgspec.Struct):
    delta: Delta
    index: int = 0
    finish_reason: str | None = None


class ChatCompletionChunk(msgspec.Struct):
    """`usage` is left out (UNSET) unless the client asked for it with include_usage; then
    it is null on every chunk but the last."""

    id: str
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: CompletionUsage | None | msgspec.UnsetType = msgspec.UNSET
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"


class Model(msgspec.Struct):
    id: str
    owned_by: str
    supported_endpoint_types: list[str] = msgspec.field(default_factory=list)
    created: int = 0
    object: Literal["model"] = "model"


class ModelList(msgspec.Struct):
    data: list[Model]
    object: Literal["list"] = "list"


class ErrorDetail(msgspec.Struct):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorBody(msgspec.Struct):
    error: ErrorDetail


class StreamError(msgspec.Struct, kw_only=True):
    """A failure after a stream started: `event: error`, the error object under `error`."""

    type: Literal["error"] = "error"
    error: ErrorDetail
