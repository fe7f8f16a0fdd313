"""Image ids are unguessable, and only stored images are served (tests/api/test_validation.py
refuses bad input in process)."""

import re

import httpx
import pytest

from tests.gateway import Gateway

USER = [{"role": "user", "content": "a teapot"}]


@pytest.fixture(scope="module")
def gateway(redis_server):
    redis_server.flush()
    with Gateway(redis_server.url).start() as gateway:
        yield gateway


def test_image_ids_are_unguessable_and_only_stored_images_are_served(gateway):
    answer = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={"messages": USER},
        headers=gateway.headers(),
        timeout=30,
    )
    url = answer.json()["choices"][0]["message"]["content"].split("](")[1].split(")")[0]
    image_id = url.rsplit("/", 1)[1].split(".")[0]
    assert re.fullmatch(r"[0-9a-f]{32}", image_id)  # 128 random bits, hex
    for probe in ("../../etc/passwd", "0" * 32, image_id[:-1] + "g", "%2e%2e"):
        assert httpx.get(f"{gateway.url}/image/{probe}").status_code == 404
