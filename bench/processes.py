"""The processes a benchmark measures (api, workers, Redis) and the fake upstream, with the
CPU time and peak memory the kernel accounts to each."""

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


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _wait_http(url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise TimeoutError(url)


class Stack:
    """Redis, a fake upstream answering after `delay` seconds, one api and `workers` workers."""

    def __init__(
        self, *, delay: float = 0.0, workers: int = 1, env: dict[str, str] | None = None
    ) -> None:
        self.redis = RedisProcess(maxmemory="2gb").start()
        self.upstream_port = free_port()
        self.upstream_url = f"http://127.0.0.1:{self.upstream_port}"
        self.upstream = _spawn(
            ["-m", "bench.fake_upstream", "--port", str(self.upstream_port), "--delay", str(delay)],
            dict(os.environ),
        )
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "REDIS_URL": self.redis.url,
            "PORT": str(self.port),
            "GATEWAY_API_KEY": GATEWAY_KEY,
            "IMAGE_GEN_MODEL_1": "bench-model",
            "IMAGE_GEN_API_BASE_1": f"{self.upstream_url}/v1",
            "IMAGE_GEN_API_KEY_1": "sk-bench",
            "IMAGE_GEN_KIND_1": "openai",
            "IMAGE_EXPIRATION": "120",
            "LOG_LEVEL": "WARNING",
            **(env or {}),
        }
        self.api = _spawn(["-m", "imagegate", "api"], self.env)
        self.workers = [_spawn(["-m", "imagegate", "worker"], self.env) for _ in range(workers)]
        _wait_http(f"{self.upstream_url}/stats")
        self._wait_healthy(workers)

    def _wait_healthy(self, workers: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                health = httpx.get(f"{self.url}/health", timeout=1)
                if health.status_code == 200 and health.json()["workers"] >= workers:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise TimeoutError("the gateway did not become healthy")

    def redis_pid(self) -> int:
        return self.redis._process.pid

    def measured_pids(self) -> list[int]:
        return [self.api.pid, *(w.pid for w in self.workers), self.redis_pid()]

    def cpu(self) -> float:
        """CPU seconds used so far by api, workers and Redis together."""
        return sum(cpu_seconds(pid) for pid in self.measured_pids())

    def upstream_stats(self, reset: bool = False) -> dict:
        return httpx.request("POST" if reset else "GET", f"{self.upstream_url}/stats").json()

    def stop(self) -> None:
        for process in [*self.workers, self.api, self.upstream]:
            process.send_signal(signal.SIGINT if process is not self.upstream else signal.SIGTERM)
        for process in [*self.workers, self.api, self.upstream]:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        self.redis.stop()

    def __enter__(self) -> "Stack":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
