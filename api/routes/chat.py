"""POST /v1/chat/completions: the last user message becomes an image, waited for or streamed."""

from litestar import Request, Response, post
from litestar.di import NamedDependency
from msgspec.structs import replace

from api.auth import require_gateway_key
from api.event_stream import EventStream
from api.jobs.background import track
from api.jobs.build import build_job, chat_images, chat_prompt, resolve_model
from api.jobs.inputs import Inputs
from api.jobs.uploads import MAX_JSON_BODY, decode_json, read_body
from api.jobs.wait import JobClient, submission
from api.openai.chat_answer import ChunkWriter, completion
from api.openai.sse import PING_EVERY, chat_stream
from api.openai.wire import ChatCompletion, ChatCompletionRequest
from api.urls import public_base_url
from common.errors import InvalidRequest, RequestTooLarge
from common.logs import request_id


# The body limit is 1 MB, or MAX_UPLOAD_BYTES for a message carrying images (read_chat).
@post(
    ["/v1/chat/completions", "/chat/completions"],  # clients differ on whether a base has /v1
    status_code=200,
    guards=[require_gateway_key],
    request_max_body_size=None,
)
async def chat_completions(
    request: Request, gateway: NamedDependency[JobClient]
) -> EventStream | Response[ChatCompletion]:
    settings = gateway.settings
    body = await read_body(request, settings.max_upload_bytes)
    try:
        data = decode_json(body, ChatCompletionRequest)
    except InvalidRequest:
        if len(body) > MAX_JSON_BODY:
            raise too_large_for_text() from None
        raise
    images = chat_images(data)
    if len(body) > MAX_JSON_BODY and not images:
        raise too_large_for_text()
    job = build_job(
        data,
        chat_prompt(data),
        settings,
        request_id=request_id.get() or "",
        stream=data.stream,
        enhance_default=True,
    )
    base_url = public_base_url(request, settings)
    if images:  # an edit of the message's images, with its text as the prompt
        _, model = resolve_model(settings, data.model)
        inputs = Inputs(request.app.state.http, gateway.images, base_url)
        loaded, _ = await inputs.load_edit(model, images, None)
        job = replace(job, images=loaded)
    tracked = await track(
        request,
        gateway,
        job,
        route="chat",
        webhook_url=data.webhook_url,
        stream=data.stream,
        body=bytes(body),
    )
    if isinstance(tracked, Response):
        return tracked
    job = tracked
    submitted = submission(request, bytes(body))
    if not data.stream:
        result = await gateway.run(job, request, **submitted)
        return Response(completion(f"chatcmpl-{job.id}", job.model, result, base_url))
    job_id, events = await gateway.stream(job, PING_EVERY, **submitted)
    include_usage = data.stream_options is not None and data.stream_options.include_usage
    writer = ChunkWriter(f"chatcmpl-{job_id}", job.model, include_usage)
    return EventStream(chat_stream(events, writer, base_url, include_usage))


def too_large_for_text() -> RequestTooLarge:
    return RequestTooLarge(
        "the request body is larger than 1 MB (only a message carrying images may be larger)"
    )
