"""Images API answers: the JSON body of a finished job, and the event stream of one in progress
(generations and edits alike; `prefix` names the events: `image_generation` or `image_edit`)."""

import base64
import time
from collections.abc import AsyncIterator

import msgspec

from api.errors import error_body
from api.jobs.wait import JobClient
from api.openai.wire import (
    ImageCompletedEvent,
    ImageData,
    ImagePartialEvent,
    ImagesResponse,
    ImagesUsage,
    InputTokensDetails,
    StreamError,
)
from api.urls import image_url
from common.errors import ErrorInfo, NotFound
from common.schemas import (
    Completed,
    Failed,
    GenerateJob,
    ImageUsage,
    JobResult,
    Preview,
    StoredImage,
)
from common.store.images import ImageStore

PING_EVERY = 15.0
PING = b": ping\n\n"
_encode = msgspec.json.Encoder().encode
_FORMATS = {"jpg": "jpeg"}  # extensions whose Images API name differs


def output_format(image: StoredImage) -> str:
    return _FORMATS.get(image.extension, image.extension)


def usage_body(usage: ImageUsage | None) -> ImagesUsage | None:
    if usage is None:
        return None
    return ImagesUsage(
        input_tokens=usage.input_tokens,
        input_tokens_details=InputTokensDetails(
            text_tokens=usage.text_tokens, image_tokens=usage.image_tokens
        ),
        output_tokens=usage.output_tokens,
        total_tokens=usage.input_tokens + usage.output_tokens,
    )


async def images_response(
    result: JobResult, images: ImageStore, base_url: str, response_format: str
) -> ImagesResponse:
    """`response_format` `url`, `b64_json`, or `both` (each item carries both)."""
    items = []
    for image in result.images:
        url = image_url(base_url, image.id, image.extension)
        b64 = await _b64(images, image) if response_format != "url" else None
        items.append(
            ImageData(
                url=url if response_format != "b64_json" else None,
                b64_json=b64,
                revised_prompt=result.prompt,  # what the upstream got: enhanced, when it was
            )
        )
    first = result.images[0]
    return ImagesResponse(
        created=int(time.time()),
        data=items,
        size=f"{first.width}x{first.height}",
        quality=result.quality or "auto",
        background=result.background or "opaque",
        output_format=output_format(first),
        usage=usage_body(result.image_usage),
    )


async def _b64(images: ImageStore, image: StoredImage) -> str:
    cached = await images.get(image.id)
    if cached is None:  # only when IMAGE_EXPIRATION is shorter than the time it took to answer
        raise NotFound("the image expired before it could be sent; IMAGE_EXPIRATION is too short")
    return base64.b64encode(cached.data).decode()


def frame(event: str, data: object) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + _encode(data) + b"\n\n"


def error_frame(info: ErrorInfo) -> bytes:
    return frame("error", StreamError(error=error_body(info).error))


async def images_stream(
    gateway: JobClient, job_id: str, job: GenerateJob, prefix: str = "image_generation"
) -> AsyncIterator[bytes]:
    """Previews as `<prefix>.partial_image`, then one `<prefix>.completed` per image (the
    last carries the job's usage, the others none, so they add up); a failure is an `error`
    event; pings while nothing happens. No [DONE]: the body closes after the last event."""
    created = int(time.time())
    quality = job.options.quality or "auto"
    background = job.options.background or "auto"
    async for event in gateway.events(job_id, PING_EVERY):
        match event:
            case None:
                yield PING
            case Preview():
                yield frame(
                    f"{prefix}.partial_image",
                    ImagePartialEvent(
                        type=f"{prefix}.partial_image",
                        b64_json=base64.b64encode(event.data).decode(),
                        created_at=created,
                        size=f"{event.width}x{event.height}",
                        quality=quality,
                        background=background,
                        output_format=event.output_format,
                        partial_image_index=event.index,
                    ),
                )
            case Completed(result):
                async for completed in _completed(gateway.images, result, prefix, created):
                    yield completed
            case Failed(error):
                yield error_frame(error)


async def _completed(
    images: ImageStore, result: JobResult, prefix: str, created: int
) -> AsyncIterator[bytes]:
    last = len(result.images) - 1
    for number, image in enumerate(result.images):
        try:
            b64 = await _b64(images, image)
        except NotFound as exc:
            yield error_frame(exc.info())
            return
        usage = usage_body(result.image_usage) if number == last else None
        yield frame(
            f"{prefix}.completed",
            ImageCompletedEvent(
                type=f"{prefix}.completed",
                b64_json=b64,
                created_at=created,
                size=f"{image.width}x{image.height}",
                quality=result.quality or "auto",
                background=result.background or "opaque",
                output_format=output_format(image),
                usage=usage or ImagesUsage(),
            ),
        )
