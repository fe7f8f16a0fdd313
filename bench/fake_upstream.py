"""A fake OpenAI Images upstream for benchmarks: answers every POST with the same prebuilt
response, instantly or after a delay, and accounts for the requests it holds.

A bare asyncio protocol rather than a web framework: it shares the two cores with what is
measured, so it must cost as little as possible. A path starting `/slow<ms>/` (say
`/slow2000/v1/images/generations`) waits that many milliseconds before answering, so one
fake serves both the instant and the slow scenarios. `GET /stats` reports — `held_seconds`
is the integral of requests in flight over time, so held_seconds / elapsed is the mean
number in flight — and `POST /stats` resets.
"""

import argparse
import asyncio
import base64
import json
import random
import time

import uvloop

from worker.render.png import encode_png


def fixed_png(side: int = 256, seed: int = 7) -> bytes:
    """Incompressible pixels: a PNG about as large as its raw RGB (196 KB at 256×256)."""
    rng = random.Random(seed)
    return encode_png(side, side, [rng.randbytes(side * 3) for _ in range(side)])


def http_response(status: str, body: bytes, content_type: str = "application/json") -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class Stats:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.in_flight = self.max_in_flight = self.served = 0
        self.held_seconds, self._since = 0.0, time.perf_counter()

    def _account(self) -> None:
        now = time.perf_counter()
        self.held_seconds += self.in_flight * (now - self._since)
        self._since = now

    def enter(self) -> None:
        self._account()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def leave(self) -> None:
        self._account()
        self.in_flight -= 1

    def report(self) -> bytes:
        self._account()
        keys = ("in_flight", "max_in_flight", "served", "held_seconds")
        return json.dumps({key: getattr(self, key) for key in keys}).encode()


def _delay(path: str, default: float) -> float:
    if path.startswith("/slow"):
        return int(path[5:].split("/", 1)[0]) / 1000
    return default


class UpstreamProtocol(asyncio.Protocol):
    def __init__(self, answer: bytes, delay: float, stats: Stats) -> None:
        self.answer, self.delay, self.stats = answer, delay, stats
        self.buffer = bytearray()
        self.head: tuple[str, str] | None = None
        self.remaining = 0  # body bytes of the current request still to come

    def connection_made(self, transport: asyncio.Transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.head is not None:  # inside a large body (an edit's upload): skip it unkept
            taken = min(self.remaining, len(data))
            self.remaining -= taken
            data = data[taken:]
            if self.remaining:
                return
            self._dispatch()
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:end].decode("latin-1")
            length = next(
                (
                    int(line.split(":", 1)[1])
                    for line in head.split("\r\n")
                    if line.lower().startswith("content-length:")
                ),
                0,
            )
            method, path = head.split(" ", 2)[:2]
            self.head, rest = (method, path), len(self.buffer) - end - 4
            if rest < length:
                self.remaining = length - rest
                self.buffer.clear()
                return
            del self.buffer[: end + 4 + length]
            self._dispatch()

    def _dispatch(self) -> None:
        method, path = self.head
        self.head = None
        asyncio.get_running_loop().create_task(self.answer_request(method, path))

    async def answer_request(self, method: str, path: str) -> None:
        stats = self.stats
        if path == "/stats":
            body = stats.report()
            if method == "POST":
                stats.reset()
            self.transport.write(http_response("200 OK", body))
            return
        stats.enter()
        try:
            if delay := _delay(path, self.delay):
                await asyncio.sleep(delay)
            if not self.transport.is_closing():
                self.transport.write(self.answer)
                stats.served += 1
        finally:
            stats.leave()


async def serve(port: int, delay: float) -> None:
    image = base64.b64encode(fixed_png()).decode()
    answer = http_response(
        "200 OK", json.dumps({"created": 1, "data": [{"b64_json": image}]}).encode()
    )
    stats = Stats()
    server = await asyncio.get_running_loop().create_server(
        lambda: UpstreamProtocol(answer, delay, stats), "127.0.0.1", port, backlog=4096
    )
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    args = parser.parse_args()
    uvloop.run(serve(args.port, args.delay))


if __name__ == "__main__":
    main()
