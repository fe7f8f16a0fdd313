"""The Prefer header and the webhook_url check, before anything is enqueued."""

import pytest
from litestar.datastructures import Headers

from api.jobs.background import MAX_WAIT, Preference, check_webhook, preference
from common.config.types import Settings
from common.errors import InvalidRequest

SIGNING = Settings(providers=(), webhook_secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")


class FakeRequest:
    def __init__(self, *prefer: str) -> None:
        self.headers = Headers([(b"prefer", value.encode()) for value in prefer])


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ((), Preference(False, None)),
        (("respond-async",), Preference(True, None)),
        (("Respond-Async, wait=10",), Preference(True, 10)),
        (("wait=5; foo=bar",), Preference(False, 5)),
        (("return=minimal", 'wait="60"'), Preference(False, MAX_WAIT)),
        (("handling=lenient",), Preference(False, None)),
    ],
)
def test_the_prefer_header(headers, expected):
    assert preference(FakeRequest(*headers)) == expected


@pytest.mark.parametrize(("value", "says"), [("wait=61", "at most 60"), ("wait=-1", "whole")])
def test_a_bad_wait_is_400_naming_the_limit(value, says):
    with pytest.raises(InvalidRequest, match=says) as raised:
        preference(FakeRequest(value))
    assert raised.value.param == "Prefer"


@pytest.mark.parametrize(
    ("url", "settings", "says"),
    [
        ("https://hooks.example/x", Settings(providers=()), "WEBHOOK_SECRET"),
        ("file:///etc/passwd", SIGNING, r"http\(s\)"),
        ("http://127.0.0.1:8080/x", SIGNING, "private"),
        ("http://[::1]/x", SIGNING, "private"),
        ("http://192.168.1.9/x", SIGNING, "private"),
        ("http://does-not-resolve.invalid/x", SIGNING, "does not resolve"),
    ],
)
async def test_webhook_urls_refused(url, settings, says):
    with pytest.raises(InvalidRequest, match=says) as raised:
        await check_webhook(url, settings)
    assert raised.value.param == "webhook_url"


async def test_an_allowed_host_may_be_private():
    from msgspec.structs import replace

    await check_webhook(
        "http://127.0.0.1:8080/x", replace(SIGNING, webhook_allow_hosts=("127.0.0.1",))
    )
