"""The worker's one upstream client."""

import httpx
import pytest

from common.config.load import load_settings
from worker.services import build_services

pytestmark = pytest.mark.asyncio


async def test_a_cookie_one_answer_sets_is_never_sent_with_the_next_request(redis):
    cookies_sent = []

    def upstream(request: httpx.Request) -> httpx.Response:
        cookies_sent.append(request.headers.get("cookie"))
        return httpx.Response(200, headers={"set-cookie": "session=key-one; Path=/"}, json={})

    settings = load_settings(
        {"IMAGE_GEN_MODEL_1": "flux-dev", "IMAGE_GEN_API_BASE_1": "http://upstream.test/v1"}
    )
    services = build_services(settings, redis, httpx.MockTransport(upstream))
    try:
        for key in ("sk-one", "sk-two"):
            await services.http.post(
                "http://upstream.test/v1/images/generations",
                headers={"Authorization": f"Bearer {key}"},
                json={},
            )
    finally:
        await services.http.aclose()
    assert cookies_sent == [None, None]
    assert not services.http.cookies
