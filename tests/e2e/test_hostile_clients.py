"""Hostile clients against the real api process: huge headers, slow headers, slow bodies, wrong
keys in bulk. Each ends bounded, and the next honest request is served."""

import base64
import contextlib
import io
import json
import os
import select
import socket
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.gateway import Gateway

HEADER_TIMEOUT = 1
REQUEST_BODY_TIMEOUT = 1
# A 100 MB header must not be held: the api may grow by a few MB at most (read buffers).
RSS_GROWTH = 20 * 2**20


@pytest.fixture(scope="module")
def gateway(redis_server):
    redis_server.flush()
    env = {
        "HEADER_TIMEOUT": str(HEADER_TIMEOUT),
        "REQUEST_BODY_TIMEOUT": str(REQUEST_BODY_TIMEOUT),
        "AUTH_FAILURES_PER_MINUTE": "20",
    }
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


def read_answer(sock: socket.socket) -> bytes:
    """One whole answer with a Content-Length, however many reads its head and body take."""
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += sock.recv(65536)
    head, _, body = answer.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    while len(body) < length:
        body += sock.recv(65536)
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


def post_head(path: str, content_type: str, key: str | None) -> bytes:
    """A POST's headers announcing a 1 MB body."""
    auth = f"Authorization: Bearer {key}\r\n" if key else ""
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: {content_type}\r\n"
        "Content-Length: 1000000\r\n\r\n"
    ).encode()


def trickle(sock: socket.socket) -> bytes:
    """Send the body a byte every 0.2 s until the gateway closes the connection; what it
    answered meanwhile. Fails if the connection is still open after ten body deadlines."""
    answer = b""
    started = time.monotonic()
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        while time.monotonic() - started < REQUEST_BODY_TIMEOUT * 10:
            if not select.select([sock], [], [], 0.2)[0]:
                sock.sendall(b"a")
            elif chunk := sock.recv(65536):
                answer += chunk
            else:
                return answer
        raise AssertionError(f"the connection is still open; answered {answer[:80]!r}")
    return answer


@pytest.mark.parametrize(
    ("path", "content_type", "opening"),
    [
        ("/v1/chat/completions", "application/json", b'{"messages": [{"content": "'),
        (
            "/v1/images/edits",
            "multipart/form-data; boundary=XyZ",
            b'--XyZ\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\n',
        ),
    ],
)
def test_a_trickled_body_is_cut_off_with_408(gateway, path, content_type, opening):
    with connect(gateway) as sock:
        sock.sendall(post_head(path, content_type, gateway.key) + opening)
        assert_served(gateway)  # while the slow body is held
        answer = trickle(sock)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 "), answer[:100]
    assert b"connection: close" in head.lower()
    error = json.loads(body)["error"]
    assert (error["type"], error["code"]) == ("invalid_request_error", "request_timeout")
    assert "REQUEST_BODY_TIMEOUT" in error["message"]
    assert_served(gateway)


def test_a_client_leaving_mid_body_is_logged_as_499_not_as_our_error(gateway):
    with connect(gateway) as sock:
        sock.sendall(post_head("/v1/chat/completions", "application/json", gateway.key) + b"{")
        assert_served(gateway)  # the handler is reading the body by now
    deadline = time.monotonic() + 10
    while "POST /v1/chat/completions 499" not in gateway.logs():
        assert time.monotonic() < deadline, gateway.logs()[-2000:]
        time.sleep(0.05)
    assert "POST /v1/chat/completions 500" not in gateway.logs()


def test_a_body_trickled_after_an_early_answer_is_cut_off(gateway):
    """A guard answers 401 before reading the body; the rest of it is not waited for forever."""
    with connect(gateway) as sock:
        sock.sendall(post_head("/v1/chat/completions", "application/json", None) + b"{")
        answer = trickle(sock)
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:100]
    assert_served(gateway)


def test_a_connection_idle_after_a_late_body_is_closed(gateway):
    """The late body ends in time, then nothing more comes: the next request's headers are due."""
    with connect(gateway) as sock:
        sock.sendall(post_head("/v1/chat/completions", "application/json", None))
        assert read_answer(sock).startswith(b"HTTP/1.1 401 ")
        sock.sendall(b" " * 1_000_000)
        assert read_all(sock).startswith(b"HTTP/1.1 408 ")  # the header timeout's answer


def test_a_large_body_sent_fast_is_served(gateway):
    """The deadline is for the whole body, not per read: 12 MB in many reads, well within it."""
    noise = Image.frombytes("RGB", (2048, 2048), os.urandom(2048 * 2048 * 3))
    upload = io.BytesIO()
    noise.save(upload, "PNG", compress_level=0)
    assert upload.tell() > 10 * 2**20
    answer = httpx.post(
        f"{gateway.url}/v1/images/edits",
        headers=gateway.headers(),
        files=[("image", ("noise.png", upload.getvalue(), "image/png"))],
        data={"prompt": "make it night", "response_format": "b64_json"},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text[:200]
    edited = Image.open(io.BytesIO(base64.b64decode(answer.json()["data"][0]["b64_json"])))
    assert edited.size == noise.size  # the placeholder draws its label over the input...
    for corner in ((3, 3), (2044, 3), (3, 2044), (2044, 2044)):  # ...whose every piece came
        assert edited.convert("RGB").getpixel(corner) == noise.getpixel(corner)


async def test_wrong_keys_in_bulk_are_throttled_per_address(start_gateway):
    gateway = start_gateway({"AUTH_FAILURES_PER_MINUTE": "20", "METRICS_KEY": "scrape-me"})
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:

        async def attempt(key: str, path: str = "/v1/models") -> httpx.Response:
            return await client.get(path, headers={"Authorization": f"Bearer {key}"})

        # Guesses at the gateway key and at METRICS_KEY count alike: neither page is a way round.
        answers = [
            await attempt(f"guess-{n}", ("/v1/models", "/metrics")[n % 2]) for n in range(30)
        ]
        statuses = [answer.status_code for answer in answers]
        assert statuses == [401] * 20 + [429] * 10
        refused = answers[-1]
        assert refused.json()["error"]["type"] == "rate_limit_error"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        # Guessing right is no way out: the address waits out its minute whatever it sends.
        assert (await attempt(gateway.key)).status_code == 429
        assert (await attempt("scrape-me", "/metrics")).status_code == 429
        assert (await client.get("/health")).status_code == 200
