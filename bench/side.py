"""imagegate, LiteLLM and the direct call side by side on one fake upstream, interleaved: each
round runs a block of every contender in turn, so the machine's noise falls on all of them."""

import ast
import asyncio
import json
import os
from dataclasses import dataclass, field

from bench import calls, litellm, load
from bench.load import Call, Run
from bench.processes import SLOW_MS, Stack, Upstream

QUICK = os.environ.get("BENCH_QUICK") == "1"  # a smoke run: a tenth of the requests


def scaled(count: int) -> int:
    return max(count // 10, 4) if QUICK else count


@dataclass
class Row:
    measure: str
    route: str
    imagegate: str
    reference: str = ""  # LiteLLM's, or the direct call's
    ratio: str = ""
    target: str = ""


@dataclass
class Contenders:
    """One fake upstream; imagegate (Redis, api, worker) and LiteLLM on it."""

    upstream: Upstream
    stack: Stack
    proxy: litellm.LiteLLM | None
    why_no_proxy: str | None
    routes: list[calls.Route] = field(default_factory=list)

    @classmethod
    def start(cls) -> "Contenders":
        upstream = Upstream()
        try:
            # Images expire after 3 s, so that Redis holds and reuses what a gateway's Redis at
            # steady state does, where with a long expiry it grows all run long into memory
            # this VM has never backed: a page's first touch costs the kernel ~11 µs here, half
            # a millisecond per stored image, falling on whichever route happens to run first.
            # 4 GB: room for the 256 in flight (3 MB reserved each) several times over.
            env = {"WORKER_CONCURRENCY": "512", "IMAGE_EXPIRATION": "3"}
            stack = Stack(upstream=upstream, env=env, maxmemory="4gb")
        except TimeoutError:
            upstream.stop()
            raise
        proxy, why = None, litellm.missing()
        if why is None:
            try:
                proxy = litellm.LiteLLM(upstream)
            except RuntimeError as exc:
                why = str(exc)
        lite_url = proxy.url if proxy else ""
        lite_headers = proxy.headers if proxy else {}
        self = cls(upstream, stack, proxy, why)
        self.routes = calls.routes(stack.url, lite_url, lite_headers, upstream.url)
        return self

    def stop(self) -> None:
        if self.proxy:
            self.proxy.stop()
        self.stack.stop()
        self.upstream.stop()

    def contenders(self, route: calls.Route) -> list[tuple[str, Call, object]]:
        """(name, call, the thing whose CPU is counted) for each contender on this route."""
        found = [("direct", route.direct, None), ("imagegate", route.imagegate, self.stack)]
        if self.proxy and route.litellm:
            found.append(("litellm", route.litellm, self.proxy))
        return found


def probe(call: Call) -> str | None:
    """Why `call` cannot be measured on this build (its route missing or refusing), or None."""
    run = asyncio.run(load.sequential(call, 1))
    if not run.errors:
        return None
    status, _, body = run.errors[0].partition(": ")
    try:
        message = json.loads(ast.literal_eval(body))["error"]["message"]
    except (ValueError, SyntaxError, KeyError, TypeError):
        message = "an answer of another shape"
    return f"{status} (expected {call.status}): {message}"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def _judge(value: float, limit: float, at_most: bool) -> str:
    ok = value <= limit if at_most else value >= limit
    return "met" if ok else "MISSED"


def latency(c: Contenders) -> list[Row]:
    rows = []
    for route in c.routes:
        runs = _interleaved(c, route, lambda call: load.sequential(call, scaled(50)), rounds=4)
        if runs is None:
            rows.append(Row("added latency p50, concurrency 1", route.name, "skipped"))
            continue
        direct = runs["direct"].p50
        added = runs["imagegate"].p50 - direct
        lite = runs["litellm"].p50 - direct if "litellm" in runs else float("nan")
        rows.append(
            Row(
                "added latency p50, concurrency 1",
                route.name,
                ms(added),
                f"LiteLLM {ms(lite)} (direct call {ms(direct)})",
                f"{added / lite:.2f}x" if lite == lite else "",
                f"≤ 3 ms: {_judge(added * 1000, 3, True)}",
            )
        )
    return rows


def throughput(c: Contenders) -> list[Row]:
    """Throughput and CPU per image on every route. Chat waiting and chat streamed share their
    LiteLLM and direct calls, so they run in the same rounds: streaming's extra CPU is then a
    difference between blocks taken side by side, not between two parts of the run."""
    rows = []
    chat, streamed, *others = c.routes
    for route, also in [(chat, streamed), *((route, None) for route in others)]:
        runs = busy(c, route, also)
        if runs is None:
            rows.append(Row("throughput, concurrency 32", route.name, "skipped"))
            continue
        lite, direct = runs.get("litellm"), runs["direct"]
        measured = [(route.name, runs["imagegate"])]
        if also is not None and also.name in runs:
            measured.append((also.name, runs[also.name]))
        for name, mine in measured:
            rows.append(_rate_row(name, mine, lite, direct))
            rows.append(_cpu_row(name, mine, lite))
        if len(measured) == 2:
            rows.append(_streaming_row(measured[0][1], measured[1][1]))
    return rows


def _streaming_row(waiting: "Measured", streamed: "Measured") -> Row:
    extra = streamed.cpu_per_image - waiting.cpu_per_image
    return Row(
        "CPU of streaming over waiting",
        "chat",
        ms(extra),
        f"waiting {ms(waiting.cpu_per_image)}, streamed {ms(streamed.cpu_per_image)}",
        "",
        f"≤ 0.3 ms: {_judge(extra * 1000, 0.3, True)}",
    )


def busy(c: Contenders, route: calls.Route, also: calls.Route | None = None):
    """The blocks every CPU-per-image row is measured on: 5 rounds of 240 requests at
    concurrency 32 per contender (`also`: imagegate on a second route, in the same rounds)."""
    return _interleaved(
        c, route, lambda call: load.concurrent(call, 32, scaled(240)), rounds=5, also=also
    )


def _rate_row(route: str, mine: "Measured", lite: "Measured | None", direct: "Measured") -> Row:
    ratio = mine.rate / lite.rate if lite else float("nan")
    return Row(
        "throughput, concurrency 32",
        route,
        f"{mine.rate:.0f}/s",
        f"LiteLLM {lite.rate:.0f}/s (direct {direct.rate:.0f}/s)" if lite else "no LiteLLM",
        f"{ratio:.1f}x" if lite else "",
        f"≥ 3x: {_judge(ratio, 3, False)}" if lite else "",
    )


def _cpu_row(route: str, mine: "Measured", lite: "Measured | None") -> Row:
    ratio = mine.cpu_per_image / lite.cpu_per_image if lite else float("nan")
    return Row(
        "CPU per image (imagegate: api + worker + Redis)",
        route,
        ms(mine.cpu_per_image),
        f"LiteLLM {ms(lite.cpu_per_image)}" if lite else "no LiteLLM",
        f"{ratio:.2f}x" if lite else "",
        f"≤ 1/3: {_judge(ratio, 1 / 3, True)}" if lite else "",
    )


@dataclass
class Measured:
    run: Run = field(default_factory=Run)
    cpu_seconds: float = 0.0

    @property
    def p50(self) -> float:
        return self.run.p50

    @property
    def rate(self) -> float:
        return self.run.rate

    @property
    def cpu_per_image(self) -> float:
        return self.cpu_seconds / max(len(self.run.latencies), 1)


def _interleaved(
    c: Contenders,
    route: calls.Route,
    block,
    rounds: int,
    also: calls.Route | None = None,
):
    """`rounds` rounds of one `block` per contender; None when imagegate lacks the route.
    `also` adds imagegate on that route as one more contender, named by the route (left out
    when imagegate lacks it)."""
    if probe(route.imagegate):
        return None
    contenders = c.contenders(route)
    if also is not None and not probe(also.imagegate):
        contenders.insert(2, (also.name, also.imagegate, c.stack))
    for _, call, _ in contenders:  # warm up: caches, then one block to open its connections
        asyncio.run(load.sequential(call, scaled(20)))
        asyncio.run(block(call))
    measured = {name: Measured() for name, _, _ in contenders}
    for _ in range(rounds):
        for name, call, owner in contenders:
            before = owner.cpu() if owner else 0.0
            run = asyncio.run(block(call))
            measured[name].cpu_seconds += (owner.cpu() - before) if owner else 0.0
            measured[name].run.add(run)
    return measured


def in_flight(c: Contenders) -> list[Row]:
    """256 clients, each sending `waves` requests in a row to a 2 s upstream: the mean number
    of requests the upstream holds, over the time the clients take, against the direct call."""
    waves = 2 if QUICK else 3
    chat = c.routes[0]
    direct = calls.slow(chat.direct, c.upstream.base(slow=True))
    held = {
        "direct": _held(c, direct, waves),
        "imagegate": _held(c, calls.slow(chat.imagegate), waves),
    }
    if c.proxy:
        held["litellm"] = _held(c, calls.slow(chat.litellm), waves)
    share = held["imagegate"][0] / held["direct"][0]
    lite = f", LiteLLM {held['litellm'][0]:.0f}" if "litellm" in held else ""
    return [
        Row(
            f"mean in flight at the upstream, 256 clients, {SLOW_MS / 1000:.0f} s upstream",
            "chat",
            f"{held['imagegate'][0]:.0f}",
            f"direct {held['direct'][0]:.0f}{lite}; errors {held['imagegate'][1]}",
            f"{share:.0%}",
            f"≥ 95 %: {_judge(share, 0.95, False)}",
        )
    ]


def _held(c: Contenders, call: Call, waves: int) -> tuple[float, int]:
    c.upstream.stats(reset=True)
    run = asyncio.run(load.concurrent(call, 256, 256 * waves))
    return c.upstream.stats()["held_seconds"] / run.elapsed, len(run.errors)
