"""Real servers the tests start themselves: moto's S3 server (speaks the S3 protocol) and,
for Redis high availability, a Sentinel group (tests/e2e/test_sentinel.py and the bulk
reader's tests)."""

import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from common.store.bulk_reader import CLIENT_NAME
from imagegate.redis_server import free_port, stop_process

S3_ENV = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}


class S3Server:
    """moto's standalone server on a free loopback port; each test makes its own bucket."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.port = free_port()
        self.url = f"http://{host}:{self.port}"
        self._process: subprocess.Popen | None = None
        self._host = host

    def start(self, timeout: float = 20.0) -> "S3Server":
        self._process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", self._host, "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/moto-api/", timeout=1)
                return self
            except httpx.TransportError:
                if self._process.poll() is not None:
                    raise RuntimeError("moto's S3 server exited at start") from None
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("moto's S3 server did not answer in time")

    def client(self):
        """boto3 (moto brings it): the tests' own view of the bucket, apart from imagegate's."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )

    def create_bucket(self) -> str:
        name = f"images-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def objects(self, bucket: str) -> list[str]:
        listing = self.client().list_objects_v2(Bucket=bucket)
        return sorted(item["Key"] for item in listing.get("Contents", ()))

    def delete(self, bucket: str, key: str) -> None:
        self.client().delete_object(Bucket=bucket, Key=key)

    def env(self, bucket: str, **extra: str) -> dict[str, str]:
        """The gateway variables that put images in `bucket`."""
        return {
            "IMAGE_STORE": "s3",
            "S3_BUCKET": bucket,
            "S3_ENDPOINT_URL": self.url,
            "S3_REGION": "us-east-1",
            "S3_ACCESS_KEY_ID": "test",
            "S3_SECRET_ACCESS_KEY": "test",
            **extra,
        }

    def stop(self) -> None:
        if self._process is not None:
            stop_process(self._process)

    def __enter__(self) -> "S3Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class SentinelGroup:
    """A Redis master, one replica and three sentinels on loopback (Debian's redis-sentinel),
    quick to fail over: the master counts as down after one second."""

    MASTER = "mymaster"

    def __init__(self, password: str | None = None, sentinel_password: str | None = None) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="imagegate-sentinel-"))
        self.ports = [free_port() for _ in range(5)]  # master, replica, three sentinels
        self.processes: list[subprocess.Popen] = []
        self.password, self.sentinel_password = password, sentinel_password

    @property
    def sentinels(self) -> str:
        return ",".join(f"127.0.0.1:{port}" for port in self.ports[2:])

    def _redis(self, port: int, *extra: str) -> subprocess.Popen:
        password = self.password
        auth = ["--requirepass", password, "--masterauth", password] if password else []
        return subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--repl-diskless-sync-delay",  # a replica is in sync at once, not in 5 s
                "0",
                "--dir",
                str(self.dir),
                *auth,
                *extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def start(self) -> "SentinelGroup":
        master, replica = self.ports[:2]
        self.processes.append(self._redis(master))
        self.processes.append(self._redis(replica, "--replicaof", "127.0.0.1", str(master)))
        # Sentinels started before the replica is linked see it only at the master's next
        # INFO, ten seconds on.
        deadline = time.monotonic() + 15
        while "master_link_status:up" not in self.ask(replica, "INFO", "replication"):
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the replica did not link to the master")
            time.sleep(0.05)
        for port in self.ports[2:]:
            conf = self.dir / f"sentinel-{port}.conf"
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {self.dir}\n"
                f"sentinel monitor {self.MASTER} 127.0.0.1 {master} 2\n"
                f"sentinel down-after-milliseconds {self.MASTER} 1000\n"
                f"sentinel failover-timeout {self.MASTER} 5000\n"
                + (f"sentinel auth-pass {self.MASTER} {self.password}\n" if self.password else "")
                + (f"requirepass {self.sentinel_password}\n" if self.sentinel_password else "")
            )
            self.processes.append(
                subprocess.Popen(
                    ["redis-sentinel", str(conf)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.master_port() == master and self._replicas_seen():
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("the sentinel group did not come up")

    def ask(self, port: int, *command: str) -> str:
        """redis-cli's answer to `command` from the Redis or sentinel on `port`."""
        password = self.password if port in self.ports[:2] else self.sentinel_password
        auth = ["-a", password, "--no-auth-warning"] if password else []
        done = subprocess.run(
            ["redis-cli", "-p", str(port), *auth, *command],
            capture_output=True,
            text=True,
            timeout=5,
        )
        return done.stdout

    def master_port(self, sentinel: int | None = None) -> int | None:
        """The master's port as a sentinel (the first, unless named) says."""
        port = sentinel or self.ports[2]
        lines = self.ask(port, "SENTINEL", "get-master-addr-by-name", self.MASTER).split()
        return int(lines[1]) if len(lines) == 2 and lines[1].isdigit() else None

    def wait_for_new_master(self, old: int, timeout: float = 30.0) -> int:
        """The port of the master every sentinel names once none names `old` any more."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            named = {self.master_port(sentinel) for sentinel in self.ports[2:]}
            if len(named) == 1 and (new := named.pop()) not in (old, None):
                return new
            time.sleep(0.1)
        raise AssertionError("the sentinels did not agree on a new master in time")

    def failover(self) -> int:
        """SENTINEL FAILOVER (retried while the sentinels find no replica good enough yet); the
        new master's port once every sentinel names it. The old master stays up."""
        old, deadline = self.master_port(), time.monotonic() + 20
        while "OK" not in self.ask(self.ports[2], "SENTINEL", "FAILOVER", self.MASTER):
            if time.monotonic() > deadline:
                raise AssertionError("the sentinels refused to fail over")
            time.sleep(0.2)
        assert old is not None
        return self.wait_for_new_master(old)

    def reader_connections(self, port: int) -> list[str]:
        """CLIENT LIST lines of the Redis on `port` for the image reader's connections."""
        lines = self.ask(port, "CLIENT", "LIST").splitlines()
        return [line for line in lines if f" name={CLIENT_NAME} " in line]

    def _replicas_seen(self) -> bool:
        return "slave" in self.ask(self.ports[2], "SENTINEL", "replicas", self.MASTER)

    def kill_master(self) -> None:
        self.processes[0].kill()
        self.processes[0].wait()

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "SentinelGroup":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
