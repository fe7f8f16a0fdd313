"""POST /v1/images/generations: the OpenAI Images API over the same queue and cache as chat,
answered as JSON or, with `stream: true`, as the SDKs' image events."""

from litestar import Request, Response, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from api.auth import require_gateway_key
from api.event_stream import EventStream
from api.jobs.background import track
from api.jobs.build import images_api_job
from api.jobs.wait import JobClient, submission
from api.openai.images_answer import PING_EVERY, images_response, images_stream
from api.openai.wire import ImageGenerationRequest, ImagesResponse
from api.urls import public_base_url
from common.errors import InvalidRequest


@post(
    ["/v1/images/generations", "/images/generations"], status_code=200, guards=[require_gateway_key]
)
async def images_generations(
    request: Request,
    data: JSONBody[ImageGenerationRequest],
    gateway: NamedDependency[JobClient],
) -> EventStream | Response[ImagesResponse]:
    settings = gateway.settings
    if not data.prompt.strip():
        raise InvalidRequest(
            "prompt is required: describe the image to make", param="prompt", code="missing_field"
        )
    job = images_api_job(data, settings)
    response_format = data.response_format or settings.images_response_format
    tracked = await track(
        request,
        gateway,
        job,
        route="images",
        webhook_url=data.webhook_url,
        response_format=response_format,
        stream=data.stream,
    )
    if isinstance(tracked, Response):
        return tracked
    job = tracked
    submitted = submission(request, await request.body())
    if data.stream:
        _, events = await gateway.stream(job, PING_EVERY, **submitted)
        return EventStream(images_stream(events, gateway.images, job))
    result = await gateway.run(job, request, **submitted)
    answer = await images_response(
        result, gateway.images, public_base_url(request, settings), response_format
    )
    return Response(answer)
