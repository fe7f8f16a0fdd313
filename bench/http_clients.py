"""CPU per upstream call: the worker's client (httpx over httpx-aiohttp, called as the
adapters call it, through worker/upstream/http.post_json) against aiohttp alone, on the
benchmark's fake upstream (one 262 KB `b64_json` answer), alternated round by round.

    python -m bench.http_clients

The difference is what the httpx layer costs a job: its request and response models, its
send chain and its stream wrappers, over the same aiohttp connection pool."""

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

import aiohttp
import httpx
import msgspec
import uvloop

from bench import calls
from bench.processes import Upstream
from common.http_client import CookielessAiohttpTransport, CookielessClient
from worker.upstream.http import post_json

CALLS = 2000
ROUNDS = 6
AUTH = {"Authorization": "Bearer sk-bench"}

Call = Callable[[], Awaitable[bytes]]


async def _httpx(url: str, concurrency: int) -> float:
    transport = CookielessAiohttpTransport(limits=httpx.Limits(max_connections=64))
    async with CookielessClient(transport=transport, timeout=30) as client:

        async def call() -> bytes:
            return (await post_json(client, url, calls.UPSTREAM, headers=AUTH))[1]

        return await _cpu_per_call(call, concurrency)


async def _aiohttp(url: str, concurrency: int) -> float:
    body = msgspec.json.encode(calls.UPSTREAM)
    headers = {**AUTH, "Content-Type": "application/json"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:

        async def call() -> bytes:
            async with session.post(url, data=body, headers=headers) as answer:
                return await answer.read()

        return await _cpu_per_call(call, concurrency)


async def _cpu_per_call(call: Call, concurrency: int) -> float:
    for _ in range(50):  # connections opened, caches warm
        await call()
    remaining = iter(range(CALLS))

    async def caller() -> None:
        for _ in remaining:
            await call()

    started = time.process_time()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    return (time.process_time() - started) / CALLS


def main() -> None:
    upstream = Upstream()
    url = f"{upstream.url}/v1/images/generations"
    clients = {"httpx over httpx-aiohttp (the worker's)": _httpx, "aiohttp alone": _aiohttp}
    try:
        print("| client | concurrency | CPU per call, median of rounds (min–max) |")
        print("|---|---|---|")
        for concurrency in (1, 32):
            measured: dict[str, list[float]] = {name: [] for name in clients}
            for _ in range(ROUNDS):
                for name, client in clients.items():
                    measured[name].append(uvloop.run(client(url, concurrency)))
            for name, seconds in measured.items():
                low, mid, high = min(seconds), statistics.median(seconds), max(seconds)
                print(
                    f"| {name} | {concurrency} | {mid * 1e6:.0f} µs "
                    f"({low * 1e6:.0f}–{high * 1e6:.0f}) |"
                )
    finally:
        upstream.stop()


if __name__ == "__main__":
    main()
