"""`imagegate serve` with no configuration at all: the newcomer's first run."""

import os

import httpx
import openai
import pytest

from tests.gateway import Served


@pytest.mark.parametrize(
    "path",
    [os.environ.get("PATH", ""), "/nonexistent"],
    ids=["private-redis-server", "embedded-fakeredis"],
)
def test_serve_needs_no_configuration(path):
    served = Served({"PATH": path})
    url, key = served.url, served.key
    try:
        assert f"{url}/#key={key}" in served.output
        client = openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
        assert [m.id for m in client.models.list()] == ["placeholder"]
        answer = client.chat.completions.create(
            model="placeholder", messages=[{"role": "user", "content": "a red fox"}]
        )
        image_url = answer.choices[0].message.content.split("](")[1].split(")")[0]
        image = httpx.get(image_url)
        assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
        chunks = list(
            client.chat.completions.create(
                model="placeholder",
                messages=[{"role": "user", "content": "a blue fox"}],
                stream=True,
            )
        )
        assert "![" in "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=f"{url}/v1", api_key="wrong", max_retries=0).models.list()
    finally:
        served.stop()
