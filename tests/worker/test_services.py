"""The worker's one upstream client, as build_services makes it."""

import pytest

from common.config.load import load_settings
from tests.common.test_http_client import cookies_sent, setting_a_session
from worker.services import build_services
from worker.upstream.http import post_json

pytestmark = pytest.mark.asyncio

SETTINGS = load_settings(
    {"IMAGE_GEN_MODEL_1": "flux-dev", "IMAGE_GEN_API_BASE_1": "http://upstream.test/v1"}
)


async def test_a_cookie_one_answer_sets_is_never_sent_with_the_next_request(redis):
    services = build_services(SETTINGS, redis)
    with setting_a_session().start() as server:
        assert await cookies_sent(services.http, server) == [None, None]
    assert not services.http.cookies


async def test_nor_with_the_next_adapter_post_on_the_session_itself(redis):
    services = build_services(SETTINGS, redis)
    with setting_a_session().start() as server:
        url = server.url.replace("127.0.0.1", "localhost") + "/v1/images/generations"
        async with services.http as client:
            for key in ("sk-one", "sk-two"):
                await post_json(client, url, {}, headers={"Authorization": f"Bearer {key}"})
        assert [request.headers.get("cookie") for request in server.requests] == [None, None]
