"""Images API answers: the JSON body of a finished job, and the event stream of one in progress
(generations and edits alike; `prefix` names the events: `image_generation` or `image_edit`)."""

import time
from collections.abc import AsyncIterator

import msgspec

from api.errors import error_body
from api.event_stream import Chunks, Last
from api.openai.wire import (
    ImageCompletedEvent,
    ImagePartialEvent,
    ImagesResponse,
    ImagesUsage,
    StreamError,
)
from common import answers
from common.answers import base64_json, output_format, usage_body
from common.errors import ErrorInfo, NotFound
from common.schemas import (
    Completed,
    Failed,
    GenerateJob,
    JobEvent,
    JobResult,
    Preview,
    StoredImage,
)
from common.store.images import ImageStore

PING_EVERY = 15.0
PING = b": ping\n\n"
_encode = msgspec.json.Encoder().encode


async def images_response(
    result: JobResult, images: ImageStore, base_url: str, response_format: str
) -> ImagesResponse:
    """`response_format` `url`, `b64_json`, or `both` (each item carries both); built by
    common/answers.py, as the worker builds a background job's."""
    data = {}
    if response_format != "url":
        data = {image.id: await _bytes(images, image) for image in result.images}
    return answers.images_response(result, base_url, response_format, data)


async def _bytes(images: ImageStore, image: StoredImage) -> bytes | memoryview:
    """The cached bytes as they are (a memoryview of the reply Redis wrote)."""
    cached = await images.get(image.id)
    if cached is None:  # only when IMAGE_EXPIRATION is shorter than the time it took to answer
        raise NotFound("the image expired before it could be sent; IMAGE_EXPIRATION is too short")
    return cached.data


def frame(event: str, data: object) -> bytes:
    # One join, not a chain of `+`: each `+` would copy the whole base64 image again.
    return b"".join((b"event: ", event.encode(), b"\ndata: ", _encode(data), b"\n\n"))


def error_frame(info: ErrorInfo) -> bytes:
    return frame("error", StreamError(error=error_body(info).error))


async def images_stream(
    events: AsyncIterator[JobEvent | None],
    images: ImageStore,
    job: GenerateJob,
    prefix: str = "image_generation",
) -> Chunks:
    """Previews as `<prefix>.partial_image`, then one `<prefix>.completed` per image (the
    last carries the job's usage, the others none, so they add up); a failure is an `error`
    event; pings while nothing happens. No [DONE]: the body closes with the last event."""
    created = int(time.time())
    quality = job.options.quality or "auto"
    background = job.options.background or "auto"
    outcome: Completed | Failed | None = None  # the events end with one of them
    async for event in events:
        match event:
            case None:
                yield PING
            case Preview():
                yield frame(
                    f"{prefix}.partial_image",
                    ImagePartialEvent(
                        type=f"{prefix}.partial_image",
                        b64_json=base64_json(event.data),
                        created_at=created,
                        size=f"{event.width}x{event.height}",
                        quality=quality,
                        background=background,
                        output_format=event.output_format,
                        partial_image_index=event.index,
                    ),
                )
            case Completed() | Failed():
                outcome = event
    # Sent once the job's events are done with, so nothing is left following them.
    match outcome:
        case Completed(result):
            async for completed in _completed(images, result, prefix, created):
                yield completed
        case Failed(error):
            yield Last(error_frame(error))


async def _completed(images: ImageStore, result: JobResult, prefix: str, created: int) -> Chunks:
    """One chunk per image, each sent as soon as its bytes are read."""
    last = len(result.images) - 1
    for number, image in enumerate(result.images):
        try:
            data = await _bytes(images, image)
        except NotFound as exc:
            yield Last(error_frame(exc.info()))
            return
        usage = usage_body(result.image_usage) if number == last else None
        completed = frame(
            f"{prefix}.completed",
            ImageCompletedEvent(
                type=f"{prefix}.completed",
                b64_json=base64_json(data),
                created_at=created,
                size=f"{image.width}x{image.height}",
                quality=result.quality or "auto",
                background=result.background or "opaque",
                output_format=output_format(image),
                usage=usage or ImagesUsage(),
            ),
        )
        yield Last(completed) if number == last else completed
