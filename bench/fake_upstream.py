"""A fake OpenAI Images upstream for benchmarks: answers every POST with the same prebuilt
response, instantly or after a delay, and counts how many requests it holds at once.

A bare asyncio protocol rather than a web framework: it shares the two cores with what is
measured, so it must cost as little as possible. `GET /stats` reports, `POST /stats` resets.
"""

import argparse
import asyncio
import base64
import json
import random

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
        self.in_flight = self.max_in_flight = self.served = 0


class UpstreamProtocol(asyncio.Protocol):
    def __init__(self, answer: bytes, delay: float, stats: Stats) -> None:
        self.answer, self.delay, self.stats = answer, delay, stats
        self.buffer = b""

    def connection_made(self, transport: asyncio.Transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
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
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            method, path = head.split(" ", 2)[:2]
            asyncio.get_running_loop().create_task(self.answer_request(method, path))

    async def answer_request(self, method: str, path: str) -> None:
        stats = self.stats
        if path == "/stats":
            body = json.dumps(vars(stats)).encode()
            if method == "POST":
                stats.max_in_flight = stats.served = 0
            self.transport.write(http_response("200 OK", body))
            return
        stats.in_flight += 1
        stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            if not self.transport.is_closing():
                self.transport.write(self.answer)
                stats.served += 1
        finally:
            stats.in_flight -= 1


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
