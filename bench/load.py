"""The load generator: aiohttp, which costs little CPU per request on the shared cores."""

import asyncio
import statistics
import time
from dataclasses import dataclass, field

import aiohttp


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)  # seconds, completed requests
    first_bytes: list[float] = field(
        default_factory=list
    )  # seconds to the first body byte (streams)
    errors: list[str] = field(default_factory=list)
    elapsed: float = 0.0

    def percentile(self, values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies) if self.latencies else float("nan")

    @property
    def p99(self) -> float:
        return self.percentile(self.latencies, 0.99)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0


def session(limit: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit), timeout=aiohttp.ClientTimeout(total=600)
    )


async def _post(http: aiohttp.ClientSession, url: str, body: dict, headers: dict, run: Run) -> None:
    started = time.perf_counter()
    try:
        async with http.post(url, json=body, headers=headers) as response:
            await response.read()
            if response.status != 200:
                run.errors.append(f"HTTP {response.status}")
                return
    except aiohttp.ClientError as exc:
        run.errors.append(type(exc).__name__)
        return
    run.latencies.append(time.perf_counter() - started)


async def sequential(url: str, body: dict, headers: dict, count: int) -> Run:
    run = Run()
    async with session(1) as http:
        started = time.perf_counter()
        for _ in range(count):
            await _post(http, url, body, headers, run)
        run.elapsed = time.perf_counter() - started
    return run


async def concurrent(url: str, body: dict, headers: dict, concurrency: int, total: int) -> Run:
    run = Run()
    remaining = iter(range(total))

    async def client(http: aiohttp.ClientSession) -> None:
        for _ in remaining:
            await _post(http, url, body, headers, run)

    async with session(concurrency) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(concurrency)))
        run.elapsed = time.perf_counter() - started
    return run


async def _stream(
    http: aiohttp.ClientSession, url: str, body: dict, headers: dict, run: Run
) -> None:
    started = time.perf_counter()
    first = None
    try:
        async with http.post(url, json={**body, "stream": True}, headers=headers) as response:
            text = b""
            async for chunk in response.content.iter_any():
                first = first or time.perf_counter() - started
                text += chunk
            if response.status != 200 or b"data: [DONE]" not in text or b'"error"' in text:
                run.errors.append(f"HTTP {response.status}: {text[-200:]!r}")
                return
    except aiohttp.ClientError as exc:
        run.errors.append(type(exc).__name__)
        return
    run.first_bytes.append(first)
    run.latencies.append(time.perf_counter() - started)


async def streams(url: str, body: dict, headers: dict, count: int) -> Run:
    """`count` streaming requests, all opened at once."""
    run = Run()
    async with session(count) as http:
        started = time.perf_counter()
        await asyncio.gather(*(_stream(http, url, body, headers, run) for _ in range(count)))
        run.elapsed = time.perf_counter() - started
    return run


async def gets(url: str, concurrency: int, seconds: float) -> Run:
    run = Run()
    deadline = time.perf_counter() + seconds

    async def client(http: aiohttp.ClientSession) -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            async with http.get(url) as response:
                await response.read()
                if response.status != 200:
                    run.errors.append(f"HTTP {response.status}")
                    continue
            run.latencies.append(time.perf_counter() - started)

    async with session(concurrency) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(concurrency)))
        run.elapsed = time.perf_counter() - started
    return run
