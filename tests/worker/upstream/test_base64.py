"""Base64 image data in an upstream's JSON, in every shape servers write it."""

import base64
import json

import msgspec
import pytest

from worker.render.png import solid_png
from worker.upstream.failures import UpstreamFailure
from worker.upstream.http import JSON_NULL, decode_json_base64

PNG = solid_png(64, 48, (10, 200, 10))
TEXT = base64.b64encode(PNG).decode()


class _Image(msgspec.Struct):
    b64_json: msgspec.Raw = JSON_NULL


def field(body: str) -> bytes | None:
    return decode_json_base64(msgspec.json.decode(body, type=_Image).b64_json)


@pytest.mark.parametrize(
    "body",
    [
        json.dumps({"b64_json": TEXT}),
        json.dumps({"b64_json": TEXT}).replace("/", "\\/"),  # PHP's and others' escaped slashes
        json.dumps({"b64_json": base64.encodebytes(PNG).decode()}),  # MIME line breaks
        json.dumps({"b64_json": "data:image/png;base64," + TEXT}),
    ],
    ids=["plain", "escaped slashes", "line breaks", "data URI"],
)
def test_the_image_comes_out_whole(body):
    assert field(body) == PNG


def test_null_or_absent_is_no_image():
    assert field('{"b64_json": null}') is None and field("{}") is None


@pytest.mark.parametrize("value", ["12", '"@@@ not base64 @@@"', '{"a": 1}'])
def test_anything_else_is_an_upstream_failure(value):
    with pytest.raises(UpstreamFailure):
        field('{"b64_json": ' + value + "}")
