"""A fake OpenAI-compatible /v1/chat/completions, the enhancement LLM, steered by magic words in the user's message."""

import asyncio
import json
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any

from aiohttp import web

from tests.fakes.openai_validation import openai_error
from tests.fakes.server import FakeServer

COMPLETIONS = "/v1/chat/completions"
USAGE = {"prompt_tokens": 42, "completion_tokens": 17, "total_tokens": 59}
THOUGHT = "The idea is short. I will add light, setting and mood, and keep the subject first."
HOSTILE = "![pixel](https://evil.example/t.png) <img src=x onerror=alert(1)> [win](javascript:alert(1)) <b>bold</b>"
LONG_WORDS = 1200  # about 6,000 characters: past every model's prompt limit
MAGIC = re.compile(
    r"__(think|reasoning|suggest|fenced|plaintext|hostile|long|nostream|llm500|hang|garbage)__"
)


def enhanced(idea: str) -> str:
    """The prompt this fake makes of an idea: what a test expects the image upstream to receive."""
    return f"{' '.join(MAGIC.sub(' ', idea).split())}, golden hour light, highly detailed"


class LLMFake:
    """Accepted keys, failing keys (`key_behaviour`: key → "server_error" or "unauthorized"), and
    the answers the magic words choose."""

    def __init__(
        self,
        valid_keys: Iterable[str] = ("sk-llm-good",),
        key_behaviour: Mapping[str, str] | None = None,
    ) -> None:
        self.valid_keys = set(valid_keys)
        self.key_behaviour = dict(key_behaviour or {})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(COMPLETIONS, self.completions)
        return app

    async def completions(self, request: web.Request) -> web.StreamResponse:
        key = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        behaviour = self.key_behaviour.get(key)
        if behaviour is not None or key not in self.valid_keys:
            return _key_failure(behaviour)
        try:
            body = json.loads(await request.read())
            idea = next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")
            model = body["model"]
        except (ValueError, KeyError, TypeError, StopIteration):
            return openai_error(
                400, "We could not parse the JSON body of your request.", "invalid_request_error"
            )
        words = set(MAGIC.findall(idea))
        if "llm500" in words:
            return openai_error(
                500, "The server had an error while processing your request.", "server_error"
            )
        if "hang" in words:
            await _hang(request)
        if (
            body.get("stream") and "nostream" not in words
        ):  # __nostream__: a server that ignores `stream`
            return await _stream(request, model, words, idea, body)
        if "garbage" in words:
            return web.Response(
                text="<html><body>502 Bad Gateway</body></html>", content_type="text/html"
            )
        reasoning, content = answer(words, idea)
        message = {
            "role": "assistant",
            "content": content,
            **({"reasoning_content": reasoning} if reasoning else {}),
        }
        return web.json_response(
            {
                **_envelope(model),
                "object": "chat.completion",
                "usage": USAGE,
                "choices": [
                    {"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}
                ],
            }
        )


def answer(words: set[str], idea: str) -> tuple[str | None, str]:
    """(reasoning_content, content) for the magic words in the idea."""
    prompt = HOSTILE if "hostile" in words else enhanced(idea)
    if "long" in words:
        prompt = " ".join(["lantern"] * LONG_WORDS)
    as_json = json.dumps(
        {"prompt": prompt, "aspect_ratio": "16:9" if "suggest" in words else None},
        ensure_ascii=False,
    )
    if "think" in words:
        return None, f"<think>{THOUGHT}</think>\n{as_json}"
    if "fenced" in words:
        return None, f"Sure! Here is the prompt:\n```json\n{as_json}\n```\nEnjoy your image."
    if "plaintext" in words:
        return None, prompt
    if "hostile" in words:
        return HOSTILE, as_json
    return (THOUGHT if "reasoning" in words else None), as_json


async def _stream(
    request: web.Request, model: str, words: set[str], idea: str, body: dict
) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    if "garbage" in words:
        await response.write(b"data: <html>502 Bad Gateway</html>\n\n")
        return response
    reasoning, content = answer(words, idea)
    deltas = [{"role": "assistant", "content": ""}]
    deltas += [{"reasoning_content": piece} for piece in _pieces(reasoning or "")]
    deltas += [
        {"content": piece} for piece in _pieces(content)
    ]  # pieces cut tags such as <think> in two
    for delta in deltas:
        await _event(
            response,
            {**_envelope(model), "choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
        )
        await asyncio.sleep(0.005)
    await _event(
        response,
        {**_envelope(model), "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    )
    if (body.get("stream_options") or {}).get("include_usage"):
        await _event(response, {**_envelope(model), "choices": [], "usage": USAGE})
    await response.write(b"data: [DONE]\n\n")
    return response


async def _hang(request: web.Request) -> None:
    """Answer nothing until the client gives up (at most a minute), then end quietly."""
    for _ in range(600):
        if request.transport is None or request.transport.is_closing():
            return
        await asyncio.sleep(0.1)


def _pieces(text: str, size: int = 5) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


async def _event(response: web.StreamResponse, payload: dict[str, Any]) -> None:
    await response.write(b"data: " + json.dumps(payload, ensure_ascii=False).encode() + b"\n\n")


def _envelope(model: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }


def _key_failure(behaviour: str | None) -> web.Response:
    if behaviour == "server_error":
        return openai_error(
            500, "The server had an error while processing your request.", "server_error"
        )
    return openai_error(
        401, "Incorrect API key provided.", "invalid_request_error", None, "invalid_api_key"
    )


def start_llm(**kwargs: Any) -> tuple[FakeServer, LLMFake]:
    """Start a fake on a free port; its base URL for the gateway is `server.url + "/v1"`."""
    fake = LLMFake(**kwargs)
    return FakeServer(fake.app()).start(), fake
