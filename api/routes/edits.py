"""POST /v1/images/edits: the input images (multipart or JSON) travel with the job to the worker."""

import hashlib

from litestar import Request, Response, post
from litestar.di import NamedDependency
from msgspec.structs import replace

from api.auth import require_gateway_key
from api.event_stream import EventStream
from api.jobs.background import track
from api.jobs.build import images_api_job, resolve_model
from api.jobs.inputs import Inputs
from api.jobs.uploads import read_edit_body
from api.jobs.wait import JobClient, submission
from api.openai.images_answer import PING_EVERY, images_response, images_stream
from api.openai.wire import ImagesResponse
from api.urls import public_base_url
from common.errors import InvalidRequest
from common.schemas import GenerateJob, encode


# The body limit is MAX_UPLOAD_BYTES, counted by read_edit_body as the body streams in.
@post(
    ["/v1/images/edits", "/images/edits"],
    status_code=200,
    guards=[require_gateway_key],
    request_max_body_size=None,
)
async def images_edits(
    request: Request, gateway: NamedDependency[JobClient]
) -> EventStream | Response[ImagesResponse]:
    settings = gateway.settings
    body = await read_edit_body(request, settings.max_upload_bytes)
    data = body.fields
    if not data.prompt.strip():
        raise InvalidRequest(
            "prompt is required: describe the change to make", param="prompt", code="missing_field"
        )
    _, model = resolve_model(settings, data.model)
    base_url = public_base_url(request, settings)
    inputs = Inputs(request.app.state.http, gateway.images, base_url)
    images, mask = await inputs.load_edit(model, body.images, body.mask)
    job = images_api_job(data, settings)
    job = replace(job, images=images, mask=mask, input_fidelity=data.input_fidelity)
    # Only an Idempotency-Key compares bodies: hashing 4 MB of images costs 2 ms otherwise.
    identity = fingerprint(job) if "idempotency-key" in request.headers else b""
    response_format = data.response_format or settings.images_response_format
    tracked = await track(
        request,
        gateway,
        job,
        route="edits",
        webhook_url=data.webhook_url,
        response_format=response_format,
        stream=data.stream,
        body=identity,
    )
    if isinstance(tracked, Response):
        return tracked
    submitted = submission(request, identity)
    if data.stream:
        _, events = await gateway.stream(tracked, PING_EVERY, **submitted)
        return EventStream(images_stream(events, gateway.images, tracked, prefix="image_edit"))
    result = await gateway.run(tracked, request, **submitted)
    return Response(await images_response(result, gateway.images, base_url, response_format))


def fingerprint(job: GenerateJob) -> bytes:
    """What makes two edits the same request (a multipart boundary differs between retries)."""
    digest = hashlib.sha256(encode(replace(job, id="", request_id="", images=(), mask=None)))
    for data in (*job.images, job.mask or b""):
        digest.update(hashlib.sha256(data).digest())
    return digest.digest()
