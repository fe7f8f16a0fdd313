"""One delivery attempt's outcome, by what the receiver does (httpx's MockTransport)."""

from types import SimpleNamespace

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from common.config.types import Settings
from worker.webhooks import _attempt

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SETTINGS = Settings(providers=(), webhook_secret=SECRET, webhook_allow_hosts=("hooks.test",))


def services(handler) -> SimpleNamespace:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return SimpleNamespace(settings=SETTINGS, http=client)


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, "delivered"),
        (204, "delivered"),
        (302, "failed"),  # redirects are not followed
        (400, "failed"),
        (410, "failed"),
        (429, "retry"),
        (500, "retry"),
        (503, "retry"),
    ],
)
async def test_the_outcome_by_status(status, outcome):
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, headers={"location": "http://10.0.0.1/"})

    assert (
        await _attempt(services(handler), SECRET, "http://hooks.test/x", "msg_1", "{}") == outcome
    )
    assert len(seen) == 1
    headers = dict(seen[0].headers)
    assert Webhook(SECRET).verify(seen[0].content, headers) == {}
    assert headers["webhook-id"] == "msg_1"


async def test_a_connection_error_or_timeout_is_retried():
    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timeout", request=request)

    for handler in (refused, slow):
        assert (
            await _attempt(services(handler), SECRET, "http://hooks.test/x", "m", "{}") == "retry"
        )


async def test_a_private_destination_is_never_called():
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("called")

    assert await _attempt(services(handler), SECRET, "http://10.0.0.7/x", "m", "{}") == "failed"
