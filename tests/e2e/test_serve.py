"""`imagegate serve` with no configuration at all: the newcomer's first run."""

import os
import re
import signal
import subprocess
import sys
import time

import httpx
import openai
import pytest

from common.redis_server import free_port


def start_serve(env: dict[str, str]) -> tuple[subprocess.Popen, str, str, str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "imagegate", "serve", "--port", str(port)],
        env={"HOME": os.environ.get("HOME", "/tmp"), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output = ""
    deadline = time.monotonic() + 20
    while "playground:" not in output and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        output += line
    key = re.search(r"API key:\s+(\S+)", output)
    assert key, output
    return process, f"http://127.0.0.1:{port}", key.group(1), output


@pytest.mark.parametrize(
    "path",
    [os.environ.get("PATH", ""), "/nonexistent"],
    ids=["private-redis-server", "embedded-fakeredis"],
)
def test_serve_needs_no_configuration(path):
    process, url, key, output = start_serve({"PATH": path})
    try:
        assert f"{url}/#key={key}" in output
        for _ in range(200):
            try:
                if httpx.get(f"{url}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        client = openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
        assert [m.id for m in client.models.list()] == ["placeholder"]
        answer = client.chat.completions.create(model="placeholder", messages=[{"role": "user", "content": "a red fox"}])
        image_url = answer.choices[0].message.content.split("](")[1].split(")")[0]
        image = httpx.get(image_url)
        assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
        chunks = list(client.chat.completions.create(model="placeholder", messages=[{"role": "user", "content": "a blue fox"}], stream=True))
        assert "![" in "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=f"{url}/v1", api_key="wrong", max_retries=0).models.list()
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(15)
