"""Real imagegate processes for end-to-end tests: `imagegate api` and `imagegate worker`
(or `imagegate serve`) as subprocesses, each with its own environment and log file."""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import openai
import redis

from common.store import keys
from imagegate.redis_server import free_port

GATEWAY_KEY = "ig-test-key"
START_TIMEOUT = 20.0


class Process:
    """One imagegate subprocess; its stderr (the JSON logs) goes to a file tests can read."""

    def __init__(self, args: list[str], env: dict[str, str], log_dir: Path, name: str) -> None:
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop())
        self._final_logs: str | None = None  # read at stop: the folder goes with the gateway
        self.stopped = False
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "imagegate", *args],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def logs(self) -> str:
        if self._final_logs is not None:
            return self._final_logs
        return self.log_path.read_text(errors="replace")

    def signal(self, sig: int) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)

    def stop(self, timeout: float = 10.0) -> None:
        self.stopped = True  # stopped on purpose: no longer a crash to report
        self.signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
        self._log.close()
        if self._final_logs is None:
            self._final_logs = self.logs()


class Gateway:
    """An api process and any number of worker processes sharing one Redis."""

    def __init__(
        self,
        redis_url: str,
        env: dict[str, str] | None = None,
        *,
        gateway_key: str | None = GATEWAY_KEY,
        host: str = "127.0.0.1",
    ) -> None:
        self.port = free_port()
        self.url = f"http://{host}:{self.port}"
        self.key = gateway_key
        self.log_dir = Path(tempfile.mkdtemp(prefix="imagegate-test-"))
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", "/tmp"),
            "REDIS_URL": redis_url,
            "PORT": str(self.port),
            # A developer's ./.env must not leak into the processes under test.
            "IMAGEGATE_ENV_FILE": "/dev/null",
            **({"HOST": host} if host != "127.0.0.1" else {}),
            **({"GATEWAY_API_KEY": gateway_key} if gateway_key else {}),
            **(env or {}),
        }
        self.api: Process | None = None
        self.workers: list[Process] = []

    def start(self, workers: int = 1) -> "Gateway":
        """Start the api and `workers` workers; a start that fails stops what it started
        (its error carries the logs), so no caller is left with processes to clean up."""
        try:
            self.api = Process(["api"], self.env, self.log_dir, "api")
            for _ in range(workers):
                self.add_worker()
            if workers:
                self.wait_until_healthy(workers)
            else:
                self.wait_until_listening()
        except BaseException:
            self.stop()
            raise
        return self

    def wait_until_listening(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                httpx.get(f"{self.url}/health", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.05)
        raise TimeoutError(f"the api did not start listening:\n{self.logs()}")

    def add_worker(self) -> Process:
        worker = Process(["worker"], self.env, self.log_dir, f"worker-{len(self.workers)}")
        self.workers.append(worker)
        return worker

    def park_a_worker(self) -> None:
        """The heartbeat of a worker that takes no job: jobs are admitted (the api refuses them
        with no live worker at all) and wait in the queue."""
        with redis.Redis.from_url(self.env["REDIS_URL"]) as client:
            client.zadd(keys.WORKERS, {"parked-by-test": time.time() + 3600})

    def wait_until_healthy(self, workers: int = 1, timeout: float = START_TIMEOUT) -> dict:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                last = httpx.get(f"{self.url}/health", timeout=1)
                if last.status_code == 200 and last.json()["workers"] >= workers:
                    return last.json()
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise TimeoutError(
            f"the gateway did not become healthy: {last and last.text}\n{self.logs()}"
        )

    def _check_alive(self) -> None:
        for process in [self.api, *self.workers]:
            if process is not None and not process.stopped and process.popen.poll() is not None:
                raise RuntimeError(
                    f"{process.log_path.name} exited with {process.popen.returncode}:\n{process.logs()}"
                )

    def client(self, **kwargs) -> openai.OpenAI:
        return openai.OpenAI(
            base_url=f"{self.url}/v1", api_key=self.key or "none", max_retries=0, **kwargs
        )

    def async_client(self, **kwargs) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            base_url=f"{self.url}/v1", api_key=self.key or "none", max_retries=0, **kwargs
        )

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"} if self.key else {}

    def logs(self) -> str:
        return "\n".join(p.logs() for p in [self.api, *self.workers] if p is not None)

    def stop(self) -> None:
        """Stop every process and remove the log folder; the logs stay readable."""
        for process in [*self.workers, self.api]:
            if process is not None:
                process.stop()
        shutil.rmtree(self.log_dir, ignore_errors=True)

    def __enter__(self) -> "Gateway":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class Served:
    """`imagegate serve` as a newcomer starts it: no configuration, a key printed at start."""

    def __init__(self, env: dict[str, str]) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "imagegate", "serve", "--port", str(port)],
            env={"HOME": os.environ.get("HOME", "/tmp"), "IMAGEGATE_ENV_FILE": "/dev/null", **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.output = self._read_banner()
        key = re.search(r"API key:\s+(\S+)", self.output)
        assert key, self.output
        self.key = key.group(1)
        self._wait_until_healthy()

    def _read_banner(self) -> str:
        output, deadline = "", time.monotonic() + START_TIMEOUT
        while "playground:" not in output and time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line and self.process.poll() is not None:
                break
            output += line
        return output

    def _wait_until_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"imagegate serve did not become healthy:\n{self.output}")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        self.process.wait(15)
