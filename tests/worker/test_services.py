"""The worker's one upstream client, as build_services makes it."""

import pytest

from common.config.load import load_settings
from tests.common.test_http_client import cookies_sent, setting_a_session
from worker.services import build_services

pytestmark = pytest.mark.asyncio


async def test_a_cookie_one_answer_sets_is_never_sent_with_the_next_request(redis):
    settings = load_settings(
        {"IMAGE_GEN_MODEL_1": "flux-dev", "IMAGE_GEN_API_BASE_1": "http://upstream.test/v1"}
    )
    services = build_services(settings, redis)
    with setting_a_session().start() as server:
        assert await cookies_sent(services.http, server) == [None, None]
