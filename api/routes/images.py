"""POST /v1/images/generations: the OpenAI Images API over the same queue and cache as chat."""

import asyncio
import base64
import time

from litestar import Request, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from api.auth import require_gateway_key
from api.jobs.build import build_job
from api.jobs.wait import JobClient
from api.openai.wire import ImageData, ImageGenerationRequest, ImagesResponse
from api.urls import image_url, public_base_url
from common.errors import InvalidRequest, NotFound
from common.logs import request_id
from common.schemas import JobResult, StoredImage
from common.store.images import ImageStore


@post("/v1/images/generations", status_code=200, guards=[require_gateway_key])
async def images_generations(
    request: Request,
    data: JSONBody[ImageGenerationRequest],
    gateway: NamedDependency[JobClient],
) -> ImagesResponse:
    settings = gateway.settings
    if data.stream:
        # A 200 JSON body to a streaming SDK call yields nothing and no error: refuse instead.
        raise InvalidRequest(
            "streaming is not supported on this route; send stream: false", param="stream"
        )
    if not data.prompt.strip():
        raise InvalidRequest(
            "prompt is required: describe the image to make", param="prompt", code="missing_field"
        )
    # Images API clients usually send finished prompts, so enhancement waits to be asked for.
    job = build_job(
        data,
        data.prompt,
        settings,
        request_id=request_id.get() or "",
        stream=False,
        enhance_default=settings.enhance_images_api,
    )
    base_url = public_base_url(request, settings)
    result = await gateway.run(
        job,
        request,
        caller=request.state.caller,
        idempotency_key=request.headers.get("idempotency-key"),
        body=await request.body(),
    )
    return await images_response(gateway.images, result, base_url, data.response_format)


async def images_response(
    images: ImageStore, result: JobResult, base_url: str, response_format: str | None
) -> ImagesResponse:
    """The Images API answer for a finished job, generation or edit alike."""
    # The prompt the upstream received: the enhanced one when enhancement ran.
    revised = result.prompt
    if response_format == "b64_json":
        items = await asyncio.gather(*(_inline(images, image, revised) for image in result.images))
    else:
        items = [
            ImageData(url=image_url(base_url, image.id, image.extension), revised_prompt=revised)
            for image in result.images
        ]
    return ImagesResponse(created=int(time.time()), data=list(items))


async def _inline(images: ImageStore, image: StoredImage, revised: str) -> ImageData:
    cached = await images.get(image.id)
    if cached is None:  # only when IMAGE_EXPIRATION is shorter than the time it took to answer
        raise NotFound("the image expired before it could be sent; IMAGE_EXPIRATION is too short")
    return ImageData(b64_json=base64.b64encode(cached.data).decode(), revised_prompt=revised)
