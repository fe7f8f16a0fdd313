"""The load generator: aiohttp, which costs little CPU per request on the shared cores."""

import asyncio
import statistics
import time
from dataclasses import dataclass, field

import aiohttp


@dataclass(frozen=True)
class Call:
    """One request as sent again and again: a JSON body, or raw bytes (a prebuilt multipart
    upload) with their Content-Type in `headers`."""

    url: str
    headers: dict = field(default_factory=dict)
    json: dict | None = None
    raw: bytes | None = None
    status: int = 200
    marker: bytes | None = None  # the time to the first chunk holding it goes to first_bytes


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)  # seconds, completed requests
    first_bytes: list[float] = field(default_factory=list)  # seconds to the marker (streams)
    errors: list[str] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)  # kept only when asked for
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

    def add(self, other: "Run") -> "Run":
        for name in ("latencies", "first_bytes", "errors", "bodies"):
            getattr(self, name).extend(getattr(other, name))
        self.elapsed += other.elapsed
        return self


def session(limit: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit), timeout=aiohttp.ClientTimeout(total=600)
    )


async def send(http: aiohttp.ClientSession, call: Call, run: Run, keep: bool = False) -> None:
    started = time.perf_counter()
    first, text = None, b""
    try:
        async with http.post(call.url, json=call.json, data=call.raw, headers=call.headers) as r:
            if call.marker is None:
                text = await r.read()
            else:
                async for chunk in r.content.iter_any():
                    text += chunk
                    if first is None and call.marker in text:
                        first = time.perf_counter() - started
            if r.status != call.status or (call.marker and first is None):
                run.errors.append(f"HTTP {r.status}: {text[:200]!r}")
                return
    except aiohttp.ClientError as exc:
        run.errors.append(type(exc).__name__)
        return
    run.latencies.append(time.perf_counter() - started)
    if first is not None:
        run.first_bytes.append(first)
    if keep:
        run.bodies.append(text)


async def sequential(call: Call, count: int) -> Run:
    run = Run()
    async with session(1) as http:
        started = time.perf_counter()
        for _ in range(count):
            await send(http, call, run)
        run.elapsed = time.perf_counter() - started
    return run


async def concurrent(call: Call, concurrency: int, total: int, keep: bool = False) -> Run:
    run = Run()
    remaining = iter(range(total))

    async def client(http: aiohttp.ClientSession) -> None:
        for _ in remaining:
            await send(http, call, run, keep)

    async with session(concurrency) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(concurrency)))
        run.elapsed = time.perf_counter() - started
    return run


async def at_once(call: Call, count: int) -> Run:
    """`count` requests, all opened at once."""
    run = Run()
    async with session(count) as http:
        started = time.perf_counter()
        await asyncio.gather(*(send(http, call, run) for _ in range(count)))
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
