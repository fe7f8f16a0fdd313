"""The processes a benchmark measures (api, workers, Redis) and the fake upstream, with the
CPU time and memory the kernel accounts to each."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from imagegate.redis_server import RedisProcess, free_port

_TICK = os.sysconf("SC_CLK_TCK")
GATEWAY_KEY = "bench-key"
SLOW_MODEL = "bench-slow"  # the same fake upstream, answering after SLOW_MS
SLOW_MS = 2000


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime


def tree_cpu_seconds(pid: int) -> float:
    """CPU of a process and of its living descendants (LiteLLM's uvicorn workers)."""
    return sum(cpu_seconds(each) for each in [pid, *descendants(pid)])


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], list(children.get(pid, []))
    while todo:
        found.append(child := todo.pop())
        todo += children.get(child, [])
    return found


def _status_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb(pid: int) -> float:
    return _status_mb(pid, "VmHWM:")


def rss_mb(pid: int) -> float:
    return _status_mb(pid, "VmRSS:")


def spawn(args: list[str], env: dict[str, str], log: Path | None = None) -> subprocess.Popen:
    out = log.open("wb") if log else subprocess.DEVNULL
    return subprocess.Popen(
        args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    for process in processes:
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_http(url: str, timeout: float = 20, ready=lambda response: True) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if ready(httpx.get(url, timeout=1)):
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError(url)


class Upstream:
    """The fake OpenAI Images upstream (bench/fake_upstream.py), `delay` seconds by default."""

    def __init__(self, delay: float = 0.0) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = ["-m", "bench.fake_upstream", "--port", str(self.port), "--delay", str(delay)]
        self.process = spawn([sys.executable, *args], dict(os.environ))
        wait_http(f"{self.url}/stats")

    def base(self, slow: bool = False) -> str:
        return f"{self.url}/slow{SLOW_MS}/v1" if slow else f"{self.url}/v1"

    def stats(self, reset: bool = False) -> dict:
        return httpx.request("POST" if reset else "GET", f"{self.url}/stats").json()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


class Stack:
    """Redis, one api and `workers` workers on a fake upstream (its own unless given one):
    model `bench-model` answers at once (or after `delay`), `bench-slow` after SLOW_MS."""

    def __init__(
        self,
        *,
        delay: float = 0.0,
        workers: int = 1,
        env: dict[str, str] | None = None,
        upstream: Upstream | None = None,
        maxmemory: str = "2gb",
    ) -> None:
        self.own_upstream = upstream is None
        self.upstream = upstream or Upstream(delay)
        self.upstream_url = self.upstream.url
        self.redis = RedisProcess(maxmemory=maxmemory).start()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "REDIS_URL": self.redis.url,
            "PORT": str(self.port),
            "GATEWAY_API_KEY": GATEWAY_KEY,
            "IMAGE_EXPIRATION": "120",
            "LOG_LEVEL": "WARNING",
            **_provider(1, "bench-model", self.upstream.base()),
            **_provider(2, SLOW_MODEL, self.upstream.base(slow=True)),
            **(env or {}),
        }
        command = [sys.executable, "-m", "imagegate"]
        self.api = spawn([*command, "api"], self.env)
        self.workers = [spawn([*command, "worker"], self.env) for _ in range(workers)]
        try:
            self._wait_healthy(workers)
        except TimeoutError:
            self.stop()
            raise

    def _wait_healthy(self, workers: int) -> None:
        def ready(health: httpx.Response) -> bool:
            return health.status_code == 200 and health.json()["workers"] >= workers

        wait_http(f"{self.url}/health", timeout=30, ready=ready)

    def redis_pid(self) -> int:
        return self.redis._process.pid

    def measured_pids(self) -> list[int]:
        return [self.api.pid, *(w.pid for w in self.workers), self.redis_pid()]

    def cpu(self) -> float:
        """CPU seconds used so far by api, workers and Redis together."""
        return sum(cpu_seconds(pid) for pid in self.measured_pids())

    def upstream_stats(self, reset: bool = False) -> dict:
        return self.upstream.stats(reset)

    def stop(self) -> None:
        stop([*self.workers, self.api])
        if self.own_upstream:
            self.upstream.stop()
        self.redis.stop()

    def __enter__(self) -> "Stack":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _provider(index: int, model: str, base: str) -> dict[str, str]:
    return {
        f"IMAGE_GEN_MODEL_{index}": model,
        f"IMAGE_GEN_API_BASE_{index}": base,
        f"IMAGE_GEN_API_KEY_{index}": "sk-bench",
        f"IMAGE_GEN_KIND_{index}": "openai",
    }
