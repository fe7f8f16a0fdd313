"""Request JSON nested deeper than 64 levels is a 400 before any decoder recurses into it."""

import pytest
from litestar.testing import TestClient

from api.app import create_app
from api.bounded import MAX_JSON_DEPTH, too_deep
from common.config.load import load_settings


def nested(depth: int, open_: str = "[", close: str = "]") -> bytes:
    return (open_ * depth + close * depth).encode()


@pytest.mark.parametrize(
    ("body", "deep"),
    [
        (nested(MAX_JSON_DEPTH), False),
        (nested(MAX_JSON_DEPTH + 1), True),
        (b'{"a": ' * 70 + b"1" + b"}" * 70, True),
        (b'{"prompt": "' + b"[" * 1000 + b'"}', False),  # brackets inside a string do not nest
        (b'{"prompt": "\\"' + b"[" * 1000 + b'"}', False),  # nor after an escaped quote
        (b"[" * 1000, False),  # malformed: the decoder says so
        (b"[]" * 10_000, False),  # wide, not deep
    ],
)
def test_depth_is_measured_outside_strings(body, deep):
    assert too_deep(body) is deep


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1_000, 100_000])
def test_a_body_nested_too_deep_is_a_400(redis_server, depth):
    settings = load_settings({"GATEWAY_API_KEY": "k", "REDIS_URL": redis_server.url})
    body = b'{"model": "placeholder", "prompt": "x", "user": ' + nested(depth) + b"}"
    with TestClient(create_app(settings)) as client:
        answer = client.post(
            "/v1/images/generations",
            content=body,
            headers={"Authorization": "Bearer k", "Content-Type": "application/json"},
        )
    assert answer.status_code == 400
    assert answer.json()["error"]["message"] == "the JSON body is nested deeper than 64 levels"
