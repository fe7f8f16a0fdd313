"""POST /v1/chat/completions: the last user message becomes an image, waited for or streamed."""

from litestar import Request, Response, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.response import Stream

from api.auth import require_gateway_key
from api.jobs.build import build_job, chat_prompt
from api.jobs.wait import JobClient
from api.openai.chat_answer import ChunkWriter, completion
from api.openai.sse import chat_stream
from api.openai.wire import ChatCompletion, ChatCompletionRequest
from api.urls import public_base_url
from common.logs import request_id

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@post("/v1/chat/completions", status_code=200, guards=[require_gateway_key])
async def chat_completions(
    request: Request, data: JSONBody[ChatCompletionRequest], gateway: NamedDependency[JobClient]
) -> Stream | Response[ChatCompletion]:
    settings = gateway.settings
    job = build_job(
        data,
        chat_prompt(data),
        settings,
        request_id=request_id.get() or "",
        stream=data.stream,
        enhance_default=True,
    )
    base_url = public_base_url(request, settings)
    submission = {
        "caller": request.state.caller,
        "idempotency_key": request.headers.get("idempotency-key"),
        "body": await request.body(),
    }
    if not data.stream:
        result = await gateway.run(job, request, **submission)
        return Response(completion(f"chatcmpl-{job.id}", job.model, result, base_url))
    job_id = await gateway.submit(job, **submission)
    include_usage = data.stream_options is not None and data.stream_options.include_usage
    writer = ChunkWriter(f"chatcmpl-{job_id}", job.model)
    return Stream(
        chat_stream(gateway, job_id, writer, base_url, include_usage),
        media_type="text/event-stream",
        headers=SSE_HEADERS,
    )
