"""The requests each benchmark sends: per route, imagegate's, LiteLLM's and the direct call to
the fake upstream they are compared with."""

from dataclasses import dataclass

from bench.load import Call
from bench.processes import GATEWAY_KEY, SLOW_MODEL

HEADERS = {"Authorization": f"Bearer {GATEWAY_KEY}"}
PROMPT = "a benchmark kettle"
CHAT = {
    "model": "bench-model",
    "messages": [{"role": "user", "content": PROMPT}],
    "enhance": False,
}
# What imagegate's openai adapter sends for these requests, and what LiteLLM is asked.
UPSTREAM = {
    "model": "bench-model",
    "prompt": PROMPT,
    "n": 1,
    "size": "1024x1024",
    "response_format": "b64_json",
}


def images(response_format: str, **extra) -> dict:
    return {**UPSTREAM, "response_format": response_format, "enhance": False, **extra}


@dataclass(frozen=True)
class Route:
    name: str
    imagegate: Call
    litellm: Call | None  # None: LiteLLM has no such route
    direct: Call


def routes(gateway: str, litellm: str, litellm_headers: dict, upstream: str) -> list[Route]:
    """The four generation routes. LiteLLM answers chat with no image, so each chat route is
    set against its Images API call with `b64_json`, the one that gives the client its image."""
    direct = Call(f"{upstream}/v1/images/generations", json=UPSTREAM)

    def lite(response_format: str) -> Call:
        body = {**UPSTREAM, "response_format": response_format}
        return Call(f"{litellm}/v1/images/generations", litellm_headers, json=body)

    chat_url, images_url = f"{gateway}/v1/chat/completions", f"{gateway}/v1/images/generations"
    stream = {**CHAT, "stream": True}
    return [
        Route("chat", Call(chat_url, HEADERS, json=CHAT), lite("b64_json"), direct),
        Route(
            "chat, streamed",
            Call(chat_url, HEADERS, json=stream, marker=b"data: [DONE]"),
            lite("b64_json"),
            direct,
        ),
        Route("images, url", Call(images_url, HEADERS, json=images("url")), lite("url"), direct),
        Route(
            "images, b64_json",
            Call(images_url, HEADERS, json=images("b64_json")),
            lite("b64_json"),
            direct,
        ),
    ]


def slow(call: Call, direct_base: str | None = None) -> Call:
    """The same call on the model whose upstream answers after two seconds."""
    body = dict(call.json)
    body["model"] = SLOW_MODEL
    url = call.url if direct_base is None else f"{direct_base}/images/generations"
    return Call(url, call.headers, json=body, status=call.status, marker=call.marker)
