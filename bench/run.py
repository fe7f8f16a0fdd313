"""Every benchmark scenario of BENCHMARKS.md, one after the other; prints the table.

Run it with bench/run.sh, which installs what a clean machine lacks first (LiteLLM included).
"""

import asyncio
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import redis

from bench import calls, load, newroutes, side
from bench.load import Call
from bench.processes import Stack, rss_mb
from bench.side import Row, scaled
from common.store.images import RedisImageStore
from common.store.redis import connect
from imagegate.redis_server import redis_server_binary
from worker.render.png import encode_png
from worker.upstream.sniff import sniff


def many_waiting() -> list[Row]:
    """1,000 streamed chat requests at once on a 5 s upstream: the api's memory meanwhile."""
    env = {"WORKER_CONCURRENCY": "1000", "IMAGE_EXPIRATION": "30"}
    # Admission reserves each 1024x1024 image's raw size (3 MB) while it is made: 1,000 at once
    # need 3 GB under the 90 % mark, or the gateway rightly answers cache_full.
    with Stack(delay=5.0, env=env, maxmemory="4gb") as stack:
        clients, rss, stop = [], [], threading.Event()
        watcher = threading.Thread(
            target=_watch, args=(stack.redis.port, stack.api.pid, clients, rss, stop)
        )
        watcher.start()
        call = Call(
            stack.url + "/v1/chat/completions",
            calls.HEADERS,
            json={**calls.CHAT, "stream": True},
            marker=b"data: ",
        )
        run = asyncio.run(load.at_once(call, 1000))
        stop.set()
        watcher.join()
    api = max(rss, default=0.0)
    return [
        Row(
            "1,000 streams at once (5 s upstream)",
            "chat, streamed",
            f"{len(run.latencies)} done, {len(run.errors)} errors",
            f"all done in {run.elapsed:.1f} s{_errors(run)}; first byte p50 "
            f"{side.ms(run.percentile(run.first_bytes, 0.5))}, p99 "
            f"{side.ms(run.percentile(run.first_bytes, 0.99))}",
        ),
        Row(
            "api RSS with 1,000 waiting",
            "chat, streamed",
            f"{api:.0f} MB",
            f"Redis connections at most {max(clients, default=0)} (api + worker + this probe)",
            "",
            f"≤ 300 MB: {side._judge(api, 300, True)}",
        ),
    ]


def _errors(run: load.Run) -> str:
    """The commonest failure, so a table with errors says which."""
    if not run.errors:
        return ""
    kind, count = Counter(error[:60] for error in run.errors).most_common(1)[0]
    return f" ({count} × {kind})".replace("|", "/")


def _watch(port: int, api: int, seen: list, rss: list, stop: threading.Event) -> None:
    client = redis.Redis(port=port)
    while not stop.wait(0.2):
        seen.append(client.info("clients")["connected_clients"])
        rss.append(rss_mb(api))


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
        Row(
            "GET /image/<id>, 1 MB, concurrency 16, Redis store",
            "/image",
            f"{rate:.0f} req/s",
            f"redis-benchmark GET {raw:.0f} req/s ({client}, medians of 3)",
            f"{rate / raw:.0%}",
            f"≥ 50 %: {side._judge(rate / raw, 0.5, False)}",
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
        return (await RedisImageStore(client, 600).put(png, sniff(png))).id
    finally:
        await client.aclose()


def _redis_benchmark_get(port: int, size: int) -> float:
    out = subprocess.run(
        ["redis-benchmark", "-p", str(port), "-t", "set,get", "-n", "4000"]
        + ["-d", str(size), "-c", "16", "--csv"],
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
            call = Call(stack.url + "/v1/chat/completions", calls.HEADERS, json=calls.CHAT)
            rates.append(asyncio.run(load.concurrent(call, 64, scaled(640))).rate)
    return [
        Row(
            "scale-out, 0.2 s upstream, 8 jobs per worker",
            "chat",
            f"1 worker {rates[0]:.0f}/s, 2 workers {rates[1]:.0f}/s",
            "",
            f"× {rates[1] / rates[0]:.2f}",
        )
    ]


SIDE_BY_SIDE = {
    "latency": side.latency,
    "throughput": side.throughput,
    "inflight": side.in_flight,
    **newroutes.SCENARIOS,
}
ALONE = {"waiting": many_waiting, "images": image_serving, "scale": horizontal_scale}


def main() -> None:
    chosen = sys.argv[1:] or [*SIDE_BY_SIDE, *ALONE]
    unknown = set(chosen) - set(SIDE_BY_SIDE) - set(ALONE)
    if unknown:
        sys.exit(f"unknown scenarios {sorted(unknown)}; known: {[*SIDE_BY_SIDE, *ALONE]}")
    rows: list[Row] = []
    together = [name for name in chosen if name in SIDE_BY_SIDE]
    if together:
        contenders = side.Contenders.start()
        if contenders.why_no_proxy:
            print(f"  LiteLLM skipped: {contenders.why_no_proxy}", file=sys.stderr)
        try:
            for name in together:
                rows += _timed(name, SIDE_BY_SIDE[name], contenders)
        finally:
            contenders.stop()
    for name in chosen:
        if name in ALONE:
            rows += _timed(name, ALONE[name])
    table = [
        machine(),
        "",
        "| measure | route | imagegate | reference | ratio | target |",
        "|---|---|---|---|---|---|",
        *(
            f"| {r.measure} | {r.route} | {r.imagegate} | {r.reference} | {r.ratio} | {r.target} |"
            for r in rows
        ),
    ]
    print("\n".join(table))
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    (results / "latest.md").write_text("\n".join(table) + "\n")


def machine() -> str:
    """The machine a table came from: absolute numbers move with it (a 2.0 GHz Xeon VM took
    1.5-2x the CPU and time of an EPYC one, LiteLLM's included), ratios much less."""
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    binary = redis_server_binary()
    words = (
        subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.split()
        if binary
        else []
    )
    redis_version = next((word[2:] for word in words if word.startswith("v=")), "unknown")
    return (
        f"Machine: {model.group(1) if model else platform.machine()}, {os.cpu_count()} CPUs; "
        f"Python {platform.python_version()}; Redis {redis_version}."
    )


def _timed(name: str, scenario, *args) -> list[Row]:
    started = time.perf_counter()
    rows = scenario(*args)
    print(f"  {name}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return rows


if __name__ == "__main__":
    main()
