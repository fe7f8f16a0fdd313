"""A private `redis-server` process: for `imagegate serve` without REDIS_URL, and for tests."""

import ctypes
import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import redis


def redis_server_binary() -> str | None:
    return shutil.which("redis-server")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


_PR_SET_PDEATHSIG = 1
_prctl = ctypes.CDLL(None).prctl if sys.platform.startswith("linux") else None


def _die_with(parent: int) -> None:
    """Run in the child before exec: the kernel kills it when its parent dies, SIGKILL of the
    parent included, so a private redis-server never outlives the process that started it."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


class RedisProcess:
    """One redis-server that keeps nothing on disk, with a memory cap and `noeviction`
    (nothing queued or paid for may ever be evicted). It dies with the thread that started
    it (Linux), and its working folder is removed as soon as it has started: nothing of it
    is left behind however this process ends."""

    def __init__(self, *, port: int | None = None, maxmemory: str = "512mb") -> None:
        self.port = port or free_port()
        self.maxmemory = maxmemory
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen | None = None
        self._dir = ""

    def start(self, timeout: float = 10.0) -> "RedisProcess":
        binary = redis_server_binary()
        if binary is None:
            raise FileNotFoundError("redis-server is not installed")
        self._dir = tempfile.mkdtemp(prefix="imagegate-redis-")
        self._process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self._dir,
                "--maxmemory",
                self.maxmemory,
                "--maxmemory-policy",
                "noeviction",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Its own session: Ctrl+C in a terminal must not kill Redis before we drain the jobs.
            start_new_session=True,
            preexec_fn=functools.partial(_die_with, os.getpid()),
        )
        try:
            self._wait_until_ready(timeout)
        finally:
            # redis-server has made it its working folder; with persistence off it writes
            # nothing there, so the folder can go now rather than at a stop that may never come.
            shutil.rmtree(self._dir, ignore_errors=True)
        return self

    def _wait_until_ready(self, timeout: float) -> None:
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                try:
                    if client.ping():
                        return
                except redis.ConnectionError:
                    if self._process is not None and self._process.poll() is not None:
                        raise RuntimeError(
                            f"redis-server exited with {self._process.returncode}"
                        ) from None
                    time.sleep(0.02)
            raise TimeoutError(
                f"redis-server did not answer on port {self.port} within {timeout} s"
            )
        finally:
            client.close()

    def stop(self) -> None:
        if self._process is not None:
            stop_process(self._process)

    def flush(self) -> None:
        with redis.Redis(host="127.0.0.1", port=self.port) as client:
            client.flushall()

    def kill(self) -> None:
        """Stop it abruptly (tests of Redis outages); `start()` brings it back on the same port."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()

    def __enter__(self) -> "RedisProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def stop_process(process: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL if it has not exited within five seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
