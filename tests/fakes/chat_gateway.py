"""A fake chat-style image gateway (like the scripts imagegate replaces): `/v1/chat/completions`
answering with a Markdown image link, or, steered by magic words, with a `data:` URL, JSON
base64, raw PNG bytes, an SSE stream, or a refusal in words."""

import base64
import json
import re
import time
from typing import Any

from aiohttp import web

from common.prompt.size_tables import DEFAULT_TABLE
from tests.fakes.openai_validation import openai_error
from tests.fakes.scenarios import URL_SCENARIOS, FakeUpstream, bearer_key, json_object
from tests.fakes.server import FakeServer

COMPLETIONS = "/v1/chat/completions"
FIELDS = {
    "model",
    "messages",
    "stream",
    "temperature",
    "top_p",
    "max_tokens",
    "n",
    "user",
    "stream_options",
}
MODELS = ("flux-chat", "zimage-chat")
RATIO = re.compile(r"ratio\s*[:：=]?\s*(\d+:\d+)\s*$", re.I)
ANSWERS = frozenset({"data_url", "json_b64", "raw", "sse", "refusal"})
REFUSAL = "Sorry, your request was blocked by our safety system: the prompt is not allowed."


class ChatGatewayFake(FakeUpstream):
    scenarios = ANSWERS | URL_SCENARIOS | {"rate_limited"}

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(COMPLETIONS, self.completions)
        self.add_file_routes(app)
        return app

    async def completions(self, request: web.Request) -> web.StreamResponse:
        key = bearer_key(request)
        if key is None or not self.knows(key):
            return openai_error(
                401, "Incorrect API key provided.", "invalid_request_error", None, "invalid_api_key"
            )
        body = await json_object(request)
        if body is None or not isinstance(body.get("messages"), list) or not body["messages"]:
            return openai_error(
                400, "'messages' is a required property", "invalid_request_error", "messages", None
            )
        if extra := sorted(set(body) - FIELDS):
            return openai_error(
                400,
                f"Unrecognized request argument supplied: {extra[0]}",
                "invalid_request_error",
                None,
                None,
            )
        if body.get("model") not in MODELS:
            return openai_error(
                404,
                f"The model `{body.get('model')}` does not exist.",
                "invalid_request_error",
                None,
                "model_not_found",
            )
        prompt, images = _message(body["messages"][-1])
        if any(not url.startswith(("data:image/", "http://", "https://")) for url in images):
            return openai_error(
                400, "Invalid image_url", "invalid_request_error", "messages", "invalid_image_url"
            )
        scenario = self.scenario(key, prompt)
        if scenario == "rate_limited":
            return openai_error(
                429,
                "Rate limit reached, slow down.",
                "requests",
                None,
                "rate_limit_exceeded",
                {"retry-after": "5"},
            )
        await self.maybe_slow(prompt)
        ratio = match.group(1) if (match := RATIO.search(prompt)) else "1:1"
        image, content_type = self.images.make(*DEFAULT_TABLE.get(ratio, DEFAULT_TABLE["1:1"]))
        return await self._answer(request, body["model"], image, content_type, scenario)

    async def _answer(
        self,
        request: web.Request,
        model: str,
        image: bytes,
        content_type: str,
        scenario: str | None,
    ) -> web.StreamResponse:
        encoded = base64.b64encode(image).decode()
        if scenario == "raw":
            return web.Response(body=image, content_type=content_type)
        if scenario == "json_b64":
            return web.json_response({"created": int(time.time()), "data": [{"b64_json": encoded}]})
        if scenario == "refusal":
            content = REFUSAL
        elif scenario == "data_url":
            content = f"![image](data:{content_type};base64,{encoded})"
        else:
            content = f"Here is your image:\n\n![generated]({self.image_url(request, image, content_type, scenario)})\n"
        if scenario == "sse":
            return await _stream(request, model, content)
        return web.json_response(
            _completion(model, {"message": {"role": "assistant", "content": content}})
        )


def _message(message: dict) -> tuple[str, list[str]]:
    """The text of a message, and the URLs of its image_url parts (content may be a list)."""
    content = message.get("content", "")
    if not isinstance(content, list):
        return str(content), []
    text = " ".join(str(p.get("text", "")) for p in content if p.get("type") == "text")
    images = [
        str((p.get("image_url") or {}).get("url", ""))
        for p in content
        if p.get("type") == "image_url"
    ]
    return text, images


def _completion(model: str, choice: dict, chunk: bool = False) -> dict:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk" if chunk else "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "finish_reason": None if chunk else "stop", **choice}],
    }


async def _stream(request: web.Request, model: str, content: str) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    half = len(content) // 2
    for piece in (content[:half], content[half:]):
        chunk = _completion(model, {"delta": {"content": piece}}, chunk=True)
        await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
    await response.write(b"data: [DONE]\n\n")
    return response


def start_chat_gateway(**kwargs: Any) -> tuple[FakeServer, ChatGatewayFake]:
    """Start a fake on a free port; the gateway's base URL is `server.url + "/v1"` (or the full URL)."""
    fake = ChatGatewayFake(**kwargs)
    return FakeServer(fake.app()).start(), fake
