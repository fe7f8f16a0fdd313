"""The routes added after the first round, each skipped with its reason while this build lacks
it: streamed generations, edits with a 4 MB upload, background jobs, /image from S3."""

import asyncio
import random
import time

from bench import calls, load, side
from bench.load import Call
from bench.side import Contenders, Row, ms, scaled
from worker.render.png import encode_png


def _skipped(measure: str, route: str, why: str) -> list[Row]:
    return [Row(measure, route, "skipped", why.replace("|", "/"))]


def streamed_generations(c: Contenders) -> list[Row]:
    images_url = f"{c.stack.url}/v1/images/generations"
    streamed = Call(
        images_url, calls.HEADERS, json=calls.images("b64_json", stream=True), marker=b"event: "
    )
    if why := side.probe(streamed):
        return _skipped("streamed generations", "images, streamed", why)
    b64 = next(route for route in c.routes if route.name == "images, b64_json")
    route = calls.Route("images, streamed", streamed, b64.litellm, b64.direct)
    first = side._interleaved(c, route, lambda call: load.sequential(call, scaled(50)), rounds=3)
    mine = first["imagegate"].run
    ttfe = mine.percentile(mine.first_bytes, 0.5)
    direct = first["direct"].p50
    rows = [
        Row(
            "time to first event, concurrency 1",
            route.name,
            ms(ttfe),
            f"direct call {ms(direct)}: {ms(ttfe - direct)} added",
            "",
            f"≤ 3 ms added: {side._judge((ttfe - direct) * 1000, 3, True)}",
        )
    ]
    busy = side.busy(c, route)
    return rows + [side._cpu_row(route.name, busy["imagegate"], busy.get("litellm"))]


def _multipart(fields: dict[str, str], image: bytes) -> tuple[bytes, str]:
    boundary = "benchboundary7d1f"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="in.png"\r\n'
        "Content-Type: image/png\r\n\r\n".encode()
    )
    body = b"".join(parts) + image + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def four_megabyte_png() -> bytes:
    side_px = 1184  # random RGB pixels: about 4.2 MB however zlib tries
    rng = random.Random(11)
    return encode_png(side_px, side_px, [rng.randbytes(side_px * 3) for _ in range(side_px)])


def edits(c: Contenders) -> list[Row]:
    fields = {"model": "bench-model", "prompt": calls.PROMPT, "response_format": "b64_json"}
    body, content_type = _multipart(fields, four_megabyte_png())
    upload = {"Content-Type": content_type}
    mine = Call(f"{c.stack.url}/v1/images/edits", {**calls.HEADERS, **upload}, raw=body)
    if why := side.probe(mine):
        return _skipped("edits, 4 MB upload", "images/edits", why)
    direct = Call(f"{c.upstream.url}/v1/images/edits", upload, raw=body)
    lite = None
    if c.proxy:
        lite = Call(f"{c.proxy.url}/v1/images/edits", {**c.proxy.headers, **upload}, raw=body)
        lite = None if side.probe(lite) else lite
    route = calls.Route("images/edits, 4 MB", mine, lite, direct)
    runs = side._interleaved(c, route, lambda call: load.sequential(call, scaled(30)), rounds=3)
    added = runs["imagegate"].p50 - runs["direct"].p50
    lite_note = f"; LiteLLM {ms(runs['litellm'].p50 - runs['direct'].p50)}" if lite else ""
    return [
        Row(
            "added latency p50, concurrency 1",
            route.name,
            ms(added),
            f"direct upload {ms(runs['direct'].p50)}{lite_note}",
        ),
        side._cpu_row(route.name, runs["imagegate"], runs.get("litellm")),
    ]


def background_jobs(c: Contenders) -> list[Row]:
    url = f"{c.stack.url}/v1/images/generations"
    queued = Call(
        url, {**calls.HEADERS, "Prefer": "respond-async"}, json=calls.images("url"), status=202
    )
    if why := side.probe(queued):
        return _skipped("background jobs", "Prefer: respond-async", why)
    waiting = Call(url, calls.HEADERS, json=calls.images("url"))
    _settle(c, 1)
    accepted = asyncio.run(load.sequential(queued, scaled(100)))
    _settle(c, len(accepted.latencies))
    per_job, per_wait = 0.0, 0.0
    rounds, count = 3, scaled(200)
    for _ in range(rounds):
        before = c.stack.cpu()
        c.upstream.stats(reset=True)
        asyncio.run(load.concurrent(queued, 32, count))
        _settle(c, count)
        per_job += (c.stack.cpu() - before) / count / rounds
        before = c.stack.cpu()
        asyncio.run(load.concurrent(waiting, 32, count))
        per_wait += (c.stack.cpu() - before) / count / rounds
    return [
        Row("202 Accepted latency p50, concurrency 1", "jobs", ms(accepted.p50)),
        Row(
            "CPU per background job (to succeeded)",
            "jobs",
            ms(per_job),
            f"the same request waited for: {ms(per_wait)}",
            f"{per_job / per_wait:.2f}x",
        ),
    ]


def _settle(c: Contenders, count: int, timeout: float = 60) -> None:
    """Until the upstream has answered `count` requests since its last reset, and a beat more
    for the jobs' final writes."""
    deadline = time.monotonic() + timeout
    while c.upstream.stats()["served"] < count and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    c.upstream.stats(reset=True)


def s3_images(c: Contenders) -> list[Row]:
    """/image from the bucket against a direct GET of the same object (its own moto server,
    api and worker: the contenders' upstream plays no part)."""
    del c
    try:
        from bench.s3_image import measure
    except ImportError:
        return _skipped("GET /image from S3", "/image", "IMAGE_STORE=s3 is not on this build")
    rows = measure()
    mine, direct = rows["/image from S3"], rows["direct S3 GET"]
    share = mine["rps"] / direct["rps"]
    return [
        Row(
            "GET /image from S3, requests/s at concurrency 8",
            "/image (s3)",
            f"{mine['rps']:.0f}/s, p50 {mine['p50_ms']:.1f} ms",
            f"direct GET {direct['rps']:.0f}/s, p50 {direct['p50_ms']:.1f} ms",
            f"{share:.0%}",
            f"≥ 50 %: {side._judge(share, 0.5, False)}",
        )
    ]


SCENARIOS = {
    "streamed": streamed_generations,
    "edits": edits,
    "jobs": background_jobs,
    "s3": s3_images,
}
