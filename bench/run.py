"""Every benchmark scenario of BENCHMARKS.md, one after the other; prints the table.

Run it with bench/run.sh, which installs what a clean machine lacks first.
"""

import asyncio
import random
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import redis

from bench import load
from bench.processes import GATEWAY_KEY, Stack, peak_rss_mb
from common.store.images import ImageStore
from common.store.redis import connect
from worker.render.png import encode_png
from worker.upstream.sniff import sniff

CHAT = "/v1/chat/completions"
HEADERS = {"Authorization": f"Bearer {GATEWAY_KEY}"}
BODY = {
    "model": "bench-model",
    "messages": [{"role": "user", "content": "a benchmark kettle"}],
    "enhance": False,
}
# What imagegate's openai adapter sends for BODY: the direct call it is compared with.
UPSTREAM_BODY = {
    "model": "bench-model",
    "prompt": "a benchmark kettle",
    "n": 1,
    "size": "1024x1024",
    "response_format": "b64_json",
}

Row = tuple[str, str, str]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def added_latency() -> list[Row]:
    with Stack() as stack:
        direct_url = f"{stack.upstream_url}/v1/images/generations"
        asyncio.run(load.sequential(direct_url, UPSTREAM_BODY, {}, 50))
        asyncio.run(load.sequential(stack.url + CHAT, BODY, HEADERS, 50))
        direct = asyncio.run(load.sequential(direct_url, UPSTREAM_BODY, {}, 500))
        via = asyncio.run(load.sequential(stack.url + CHAT, BODY, HEADERS, 500))
    return [
        (
            "1. added latency, p50 (concurrency 1)",
            ms(via.p50 - direct.p50),
            f"direct {ms(direct.p50)}, through imagegate {ms(via.p50)}",
        ),
        (
            "1. added latency, p99 (concurrency 1)",
            ms(via.p99 - direct.p99),
            f"direct {ms(direct.p99)}, through imagegate {ms(via.p99)}; errors {len(via.errors)}",
        ),
    ]


def throughput() -> list[Row]:
    with Stack(env={"WORKER_CONCURRENCY": "64"}) as stack:
        asyncio.run(load.concurrent(stack.url + CHAT, BODY, HEADERS, 32, 300))
        before = stack.cpu()
        run = asyncio.run(load.concurrent(stack.url + CHAT, BODY, HEADERS, 32, 4000))
        used = stack.cpu() - before
    per_image = used / max(len(run.latencies), 1)
    return [
        (
            "2. throughput (concurrency 32, 1 api + 1 worker)",
            f"{run.rate:.0f} images/s",
            f"{len(run.latencies)} done, {len(run.errors)} errors, p99 {ms(run.p99)}",
        ),
        (
            "2. CPU per generation (api + worker + Redis)",
            ms(per_image),
            f"{used:.1f} CPU-s for {len(run.latencies)} images",
        ),
    ]


def in_flight() -> list[Row]:
    with Stack(delay=2.0, env={"WORKER_CONCURRENCY": "512"}) as stack:
        stack.upstream_stats(reset=True)
        run = asyncio.run(load.concurrent(stack.url + CHAT, BODY, HEADERS, 256, 256))
        held = stack.upstream_stats()["max_in_flight"]
    return [
        (
            "2b. in flight at the upstream (256 clients, 2 s delay)",
            f"{held / 256:.0%}",
            f"{held} of 256 at once; {len(run.errors)} errors",
        )
    ]


def many_streams() -> list[Row]:
    with Stack(delay=5.0, env={"WORKER_CONCURRENCY": "1000", "IMAGE_EXPIRATION": "30"}) as stack:
        clients, stop = [], threading.Event()
        watcher = threading.Thread(target=_watch_clients, args=(stack.redis.port, clients, stop))
        watcher.start()
        run = asyncio.run(load.streams(stack.url + CHAT, BODY, HEADERS, 1000))
        stop.set()
        watcher.join()
        api_rss, worker_rss = peak_rss_mb(stack.api.pid), peak_rss_mb(stack.workers[0].pid)
    return [
        (
            "3. 1,000 streams at once (5 s upstream delay)",
            f"{len(run.latencies)} done, {len(run.errors)} errors",
            f"all done in {run.elapsed:.1f} s",
        ),
        (
            "3. time to first byte, p50 / p99",
            f"{ms(run.percentile(run.first_bytes, 0.5))} / {ms(run.percentile(run.first_bytes, 0.99))}",
            "",
        ),
        ("3. peak RSS: api / worker", f"{api_rss:.0f} MB / {worker_rss:.0f} MB", ""),
        (
            "3. Redis connections at most",
            str(max(clients, default=0)),
            "for 1,000 waiting clients (api + worker + this probe)",
        ),
    ]


def _watch_clients(port: int, seen: list[int], stop: threading.Event) -> None:
    client = redis.Redis(port=port)
    while not stop.wait(0.2):
        seen.append(client.info("clients")["connected_clients"])


def image_serving() -> list[Row]:
    with Stack() as stack:
        image_id = asyncio.run(_store_megabyte_image(stack.redis.url))
        url = f"{stack.url}/image/{image_id}.png"
        rates, raws = [], []
        for _ in range(3):  # alternated, medians kept: both vary run to run on a shared machine
            client, rate = _get_rate(url)
            rates.append(rate)
            raws.append(_redis_benchmark_get(stack.redis.port, 1_048_576))
    rate, raw = statistics.median(rates), statistics.median(raws)
    return [
        (
            "4. GET /image/<id>, 1 MB (concurrency 16)",
            f"{rate:.0f} req/s",
            f"{client}; redis-benchmark GET of 1 MB: {raw:.0f} req/s → {rate / raw:.0%} (medians of 3)",
        )
    ]


def _get_rate(url: str) -> tuple[str, float]:
    """Requests per second for GETs of `url` at concurrency 16: with wrk (C) when installed, since
    the client shares the two cores with what it measures; else with aiohttp."""
    if shutil.which("wrk"):
        subprocess.run(["wrk", "-t2", "-c16", "-d1s", url], capture_output=True, check=True)
        out = subprocess.run(
            ["wrk", "-t2", "-c16", "-d4s", url], capture_output=True, text=True, check=True
        ).stdout
        return "wrk", float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    asyncio.run(load.gets(url, 16, 2))
    return "aiohttp (wrk not installed)", asyncio.run(load.gets(url, 16, 8)).rate


async def _store_megabyte_image(url: str) -> str:
    rng = random.Random(3)
    png = encode_png(591, 591, [rng.randbytes(591 * 3) for _ in range(591)])
    client = connect(url)
    try:
        return (await ImageStore(client, 600).put(png, sniff(png))).id
    finally:
        await client.aclose()


def _redis_benchmark_get(port: int, size: int) -> float:
    out = subprocess.run(
        [
            "redis-benchmark",
            "-p",
            str(port),
            "-t",
            "set,get",
            "-n",
            "4000",
            "-d",
            str(size),
            "-c",
            "16",
            "--csv",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    row = next(line for line in out.splitlines() if line.startswith('"GET"'))
    return float(re.findall(r'"([\d.]+)"', row)[0])


def horizontal_scale() -> list[Row]:
    rates = []
    for workers in (1, 2):
        with Stack(delay=0.2, workers=workers, env={"WORKER_CONCURRENCY": "8"}) as stack:
            rates.append(
                asyncio.run(load.concurrent(stack.url + CHAT, BODY, HEADERS, 64, 640)).rate
            )
    return [
        (
            "5. scale-out (0.2 s delay, 8 jobs per worker)",
            f"1 worker {rates[0]:.0f}/s, 2 workers {rates[1]:.0f}/s",
            f"× {rates[1] / rates[0]:.2f}",
        )
    ]


SCENARIOS = {
    "latency": added_latency,
    "throughput": throughput,
    "inflight": in_flight,
    "streams": many_streams,
    "images": image_serving,
    "scale": horizontal_scale,
}


def main() -> None:
    chosen = sys.argv[1:] or list(SCENARIOS)
    rows: list[Row] = []
    for name in chosen:
        started = time.perf_counter()
        rows += SCENARIOS[name]()
        print(f"  {name}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    table = [
        "| scenario | result | detail |",
        "|---|---|---|",
        *(f"| {a} | {b} | {c} |" for a, b, c in rows),
    ]
    print("\n".join(table))
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    (results / "latest.md").write_text("\n".join(table) + "\n")


if __name__ == "__main__":
    main()
