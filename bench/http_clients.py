"""CPU per upstream call on the benchmark's fake upstream (one 262 KB `b64_json` answer),
alternated round by round: the worker's call as adapters make it (worker/upstream/http.py
post_json, straight to the client's aiohttp session), the same POST through the client's
httpx API (over httpx-aiohttp, as every call went before), and aiohttp alone.

    python -m bench.http_clients

The second less the first is what the httpx layer cost each job: its request and response
models, its send chain and its stream wrappers, over the same aiohttp connection pool."""

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
from worker.upstream.bodies import read_capped
from worker.upstream.client import UpstreamClient
from worker.upstream.http import post_json

CALLS = 2000
ROUNDS = 6
AUTH = {"Authorization": "Bearer sk-bench"}

Call = Callable[[], Awaitable[bytes]]


async def _post_json(url: str, concurrency: int) -> float:
    async with _client() as client:

        async def call() -> bytes:
            return (await post_json(client, url, calls.UPSTREAM, headers=AUTH))[1]

        return await _cpu_per_call(call, concurrency)


async def _httpx(url: str, concurrency: int) -> float:
    body = msgspec.json.encode(calls.UPSTREAM)
    headers = {**AUTH, "Content-Type": "application/json"}
    async with _client() as client:

        async def call() -> bytes:
            async with client.stream("POST", url, content=body, headers=headers) as answer:
                return await read_capped(answer)

        return await _cpu_per_call(call, concurrency)


def _client() -> UpstreamClient:
    return UpstreamClient(limits=httpx.Limits(max_connections=64), timeout=httpx.Timeout(30))


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
    clients = {
        "post_json (the worker's, on aiohttp's session)": _post_json,
        "the same POST through httpx over httpx-aiohttp": _httpx,
        "aiohttp alone": _aiohttp,
    }
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
