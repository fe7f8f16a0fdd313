"""Hostile clients against the real api process: huge headers, slow headers, wrong keys in
bulk. Each ends bounded, and the next honest request is served."""

import socket
import time
from pathlib import Path

import httpx
import pytest

from tests.gateway import Gateway

HEADER_TIMEOUT = 1
# A 100 MB header must not be held: the api may grow by a few MB at most (read buffers).
RSS_GROWTH = 20 * 2**20


@pytest.fixture(scope="module")
def gateway(redis_server):
    redis_server.flush()
    env = {"HEADER_TIMEOUT": str(HEADER_TIMEOUT), "AUTH_FAILURES_PER_MINUTE": "20"}
    with Gateway(redis_server.url, env).start() as gateway:
        yield gateway


def rss(pid: int, field: str = "VmHWM") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} in /proc")


def connect(gateway: Gateway) -> socket.socket:
    return socket.create_connection(("127.0.0.1", gateway.port), timeout=10)


def read_all(sock: socket.socket) -> bytes:
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    return answer


def assert_served(gateway: Gateway) -> None:
    models = httpx.get(f"{gateway.url}/v1/models", headers=gateway.headers(), timeout=10)
    assert models.status_code == 200


def test_a_100_mb_header_is_refused_with_431_and_never_held(gateway):
    pid = gateway.api.popen.pid
    before = rss(pid)
    with connect(gateway) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ")
        piece, sent = b"a" * 2**20, 0
        try:
            while sent < 100 * 2**20:
                sock.sendall(piece)
                sent += len(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the api closed the connection long before the header ended
        try:
            answer = read_all(sock)
        except ConnectionResetError:
            answer = b""  # the reset can overtake the answer; the bound is what counts
    assert sent < 100 * 2**20
    if answer:
        assert answer.startswith(b"HTTP/1.1 431 ")
        assert b'"code": "request_header_fields_too_large"' in answer
    assert rss(pid) - before < RSS_GROWTH
    assert_served(gateway)


def test_a_header_of_17_kb_is_431_in_the_openai_shape(gateway):
    answer = httpx.get(f"{gateway.url}/v1/models", headers={"X-Padding": "p" * 17_000}, timeout=10)
    assert answer.status_code == 431
    assert answer.json()["error"]["code"] == "request_header_fields_too_large"
    under = httpx.get(
        f"{gateway.url}/v1/models", headers={**gateway.headers(), "X-Padding": "p" * 8_000}
    )
    assert under.status_code == 200


def test_slow_headers_are_cut_off_at_the_header_timeout(gateway):
    with connect(gateway) as sock:
        sock.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        try:
            while time.monotonic() - started < HEADER_TIMEOUT * 10:
                sock.sendall(b"X-Drip: 1\r\n")  # a byte-feeder never finishing its headers
                time.sleep(0.2)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:100]
    assert_served(gateway)


def test_an_idle_connection_is_closed(gateway):
    with connect(gateway) as sock:
        assert read_all(sock).startswith(b"HTTP/1.1 408 ")  # nothing sent at all


async def test_wrong_keys_in_bulk_are_throttled_per_address(start_gateway):
    gateway = start_gateway({"AUTH_FAILURES_PER_MINUTE": "20"})
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:

        async def attempt(key: str) -> httpx.Response:
            return await client.get("/v1/models", headers={"Authorization": f"Bearer {key}"})

        answers = [await attempt(f"guess-{n}") for n in range(30)]
        statuses = [answer.status_code for answer in answers]
        assert statuses == [401] * 20 + [429] * 10
        refused = answers[-1]
        assert refused.json()["error"]["type"] == "rate_limit_error"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        # Guessing right is no way out: the address waits out its minute whatever it sends.
        assert (await attempt(gateway.key)).status_code == 429
        assert (await client.get("/health")).status_code == 200
