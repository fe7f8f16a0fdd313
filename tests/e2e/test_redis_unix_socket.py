"""REDIS_URL naming a Unix socket (unix:///run/redis.sock), as a Redis on the same host is
often reached: api and worker both start on it, and a job, its image and its bytes inline all
travel through it (the main client's pool and the image reader alike)."""

import base64
import subprocess
import time

import httpx
import redis

from imagegate.redis_server import stop_process
from tests.e2e.test_chat_completions import image_urls
from tests.gateway import Gateway


def test_a_unix_socket_url_serves_jobs_and_images(tmp_path):
    socket_path = tmp_path / "redis.sock"
    process = subprocess.Popen(
        ["redis-server", "--port", "0", "--unixsocket", str(socket_path)]
        + ["--unixsocketperm", "700", "--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    url = f"unix://{socket_path}?db=0"
    try:
        deadline = time.monotonic() + 10
        while not socket_path.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        with redis.Redis.from_url(url) as client:
            assert client.ping()
        with Gateway(url).start() as gateway:
            client = gateway.client(timeout=20)
            answer = client.chat.completions.create(
                model="placeholder", messages=[{"role": "user", "content": "a lantern"}]
            )
            [link] = image_urls(answer.choices[0].message.content)
            served = httpx.get(link)
            assert served.status_code == 200 and served.content.startswith(b"\x89PNG")
            images = client.images.generate(
                model="placeholder", prompt="a lantern", response_format="b64_json"
            )
            assert base64.b64decode(images.data[0].b64_json).startswith(b"\x89PNG")
    finally:
        stop_process(process)
