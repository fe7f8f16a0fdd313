"""Redis through Sentinel: the master killed mid-load, api and worker follow the new master
without a restart; clients get images or clean errors, and new requests succeed within seconds.
/image reads through the bulk reader, on the master before and after the failover."""

import concurrent.futures
import time

import httpx
import openai

from tests.e2e.test_chat_completions import image_urls
from tests.gateway import Gateway
from tests.servers import SentinelGroup


def ask(gateway: Gateway, n: int) -> str:
    answer = gateway.client(timeout=20).chat.completions.create(
        model="placeholder", messages=[{"role": "user", "content": f"a kite {n}"}]
    )
    [url] = image_urls(answer.choices[0].message.content)
    return url


def outcome(gateway: Gateway, n: int, fetch: bool = False) -> str:
    """ "image" when the answer links an image (and, with `fetch`, /image serves it)."""
    try:
        url = ask(gateway, n)
    except openai.APIStatusError as exc:
        return f"error {exc.status_code}"
    except (openai.APIConnectionError, openai.APITimeoutError):
        return "connection"
    if fetch and httpx.get(url).status_code != 200:
        return "not served"
    return "image"


def served_by_the_reader(group: SentinelGroup, port: int) -> bool:
    """Whether the image reader's connection on the Redis at `port` last read an image."""
    return any(" cmd=mget " in line for line in group.reader_connections(port))


def test_a_failover_is_followed_without_a_restart():
    with SentinelGroup(password="redis-secret", sentinel_password="sentinel-secret") as group:
        env = {
            "REDIS_URL": "",
            "REDIS_SENTINELS": group.sentinels,
            "REDIS_PASSWORD": "redis-secret",
            "REDIS_SENTINEL_PASSWORD": "sentinel-secret",
            "REQUEST_TIMEOUT": "15",
        }
        gateway = Gateway("", env, host="127.0.0.2").start()
        try:
            assert outcome(gateway, 0, fetch=True) == "image"
            old = group.master_port()
            assert old is not None and served_by_the_reader(group, old)
            with concurrent.futures.ThreadPoolExecutor(4) as pool:
                during = [pool.submit(outcome, gateway, n) for n in range(1, 9)]
                time.sleep(0.2)
                group.kill_master()
                results = [future.result(timeout=40) for future in during]
            # Every client was answered: an image, or a clean error, never a hang.
            assert all(r == "image" or r.startswith("error 5") for r in results), results
            new = group.wait_for_new_master(old)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and outcome(gateway, 100, fetch=True) != "image":
                time.sleep(0.5)
            # An image made after the failover, served by the reader from the new master.
            assert outcome(gateway, 101, fetch=True) == "image", gateway.logs()[-3000:]
            assert served_by_the_reader(group, new)
        finally:
            gateway.stop()
