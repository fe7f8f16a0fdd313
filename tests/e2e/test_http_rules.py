"""HTTP rules a client notices: forwarded headers only from a trusted proxy, HEAD on GET
routes, the OpenAI routes without /v1, and the chat fields the SDKs expect."""

import httpx
import pytest

from tests.e2e.test_chat_completions import image_urls

FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "images.example.com"}


def chat(gateway, path: str = "/v1/chat/completions", **extra) -> httpx.Response:
    body = {"model": "placeholder", "messages": [{"role": "user", "content": "a fox"}], **extra}
    return httpx.post(
        gateway.url + path, json=body, headers={**gateway.headers(), **FORWARDED}, timeout=30
    )


@pytest.mark.parametrize("trusted", [False, True], ids=["ignored", "trusted"])
def test_forwarded_headers_count_only_with_trust_proxy_headers(start_gateway, trusted):
    gateway = start_gateway({"TRUST_PROXY_HEADERS": "true"} if trusted else {})
    [url] = image_urls(chat(gateway).json()["choices"][0]["message"]["content"])
    if trusted:
        assert url.startswith("https://images.example.com/image/")
    else:  # uvicorn's own handling would have made it https for a client on 127.0.0.1
        assert url.startswith(f"{gateway.url}/image/")
