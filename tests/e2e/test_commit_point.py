"""The stored result is the commit point: a job whose final write Redis refuses fails once,
with a 503 SDKs do not retry, and never goes back to the (paying) upstream."""

import threading
import time

import httpx
import redis

from common.store import keys
from tests.fakes.openai_images import GENERATIONS, start_openai_images

LEASE = 2


def test_a_result_redis_cannot_store_fails_once_and_is_never_paid_again(start_gateway):
    server, _ = start_openai_images(valid_keys=("sk-one", "sk-two"))
    with server:
        gateway = start_gateway(
            {
                "IMAGE_GEN_MODEL_1": "flux-dev",
                "IMAGE_GEN_API_BASE_1": f"{server.url}/v1",
                "IMAGE_GEN_API_KEY_1": "sk-one,sk-two",
                "IMAGE_GEN_KIND_1": "openai",
                "JOB_LEASE_SECONDS": str(LEASE),
            }
        )
        client = redis.Redis.from_url(gateway.env["REDIS_URL"])
        answers: list[httpx.Response] = []

        def ask() -> None:
            answers.append(
                httpx.post(
                    f"{gateway.url}/v1/images/generations",
                    json={"model": "flux-dev", "prompt": "a fox __slow:1.5__"},
                    headers=gateway.headers(),
                    timeout=60,
                )
            )

        waiting = threading.Thread(target=ask)
        waiting.start()
        while not server.requests_to(GENERATIONS):
            time.sleep(0.02)
        # Redis is full from now on, far past its cap (a cap just under the memory in use
        # is undone by Redis freeing a buffer): the image being made cannot be stored.
        client.config_set("maxmemory", client.info("memory")["used_memory"] // 2)
        try:
            waiting.join(30)
            answer = answers[0]
            assert answer.status_code == 503, answer.text
            assert answer.json()["error"]["code"] == "cache_full"
            assert answer.headers["x-should-retry"] == "false"
            assert "retry-after" in answer.headers
            time.sleep(LEASE * 3)  # long past the lease: a job left unsettled would run again
            assert len(server.requests_to(GENERATIONS)) == 1
        finally:
            client.config_set("maxmemory", 0)
        logs = gateway.logs()
        assert "could not be stored (OutOfMemoryError)" in logs
        assert "OOM" not in logs and "maxmemory" not in logs  # Redis's own words stay out
        served = httpx.post(
            f"{gateway.url}/v1/images/generations",
            json={"model": "flux-dev", "prompt": "a fox"},
            headers=gateway.headers(),
            timeout=30,
        )
        assert served.status_code == 200, served.text
        assert len(server.requests_to(GENERATIONS)) == 2


def room_for_one_image(start_gateway, server) -> tuple:
    """A gateway whose Redis has room under the 90 % mark for one 1024x1024 image in flight
    (3 MB reserved), not two; and a client of that Redis."""
    gateway = start_gateway(
        {
            "IMAGE_GEN_MODEL_1": "flux-dev",
            "IMAGE_GEN_API_BASE_1": f"{server.url}/v1",
            "IMAGE_GEN_API_KEY_1": "sk-one",
            "IMAGE_GEN_KIND_1": "openai",
        }
    )
    client = redis.Redis.from_url(gateway.env["REDIS_URL"])
    room = 4 * 2**20
    client.config_set("maxmemory", int((client.info("memory")["used_memory"] + room) / 0.9))
    time.sleep(1.1)  # the api samples Redis memory at most once a second
    return gateway, client


def test_admission_counts_the_images_still_being_made(start_gateway):
    server, _ = start_openai_images(valid_keys=("sk-one",))
    with server:
        gateway, client = room_for_one_image(start_gateway, server)
        try:
            answers: list[httpx.Response] = []
            first = threading.Thread(
                target=lambda: answers.append(
                    httpx.post(
                        f"{gateway.url}/v1/images/generations",
                        json={"model": "flux-dev", "prompt": "a fox __slow:3__"},
                        headers=gateway.headers(),
                        timeout=60,
                    )
                )
            )
            first.start()
            while not server.requests_to(GENERATIONS):
                time.sleep(0.02)
            second = httpx.post(
                f"{gateway.url}/v1/images/generations",
                json={"model": "flux-dev", "prompt": "a hare"},
                headers=gateway.headers(),
                timeout=30,
            )
            assert second.status_code == 503 and second.json()["error"]["code"] == "cache_full"
            assert "retry-after" in second.headers
            first.join(30)
            assert answers[0].status_code == 200, answers[0].text  # the one admitted is stored
        finally:
            client.config_set("maxmemory", 0)


def test_a_stored_image_counts_at_its_size_not_its_reservation(start_gateway):
    server, _ = start_openai_images(valid_keys=("sk-one",))
    with server:
        gateway, client = room_for_one_image(start_gateway, server)
        try:
            # One after the other, faster than the memory sample: each stored image counts for
            # the kilobytes it takes, so the next one still fits.
            for prompt in ("a fox", "a hare", "a badger"):
                answer = httpx.post(
                    f"{gateway.url}/v1/images/generations",
                    json={"model": "flux-dev", "prompt": prompt},
                    headers=gateway.headers(),
                    timeout=30,
                )
                assert answer.status_code == 200, answer.text
        finally:
            client.config_set("maxmemory", 0)


def test_the_bytes_in_flight_are_recounted_with_each_memory_sample(start_gateway):
    """A total a full Redis kept a worker from lowering refuses admissions for at most the
    second until the next memory sample, which adds the reservations up again."""
    server, _ = start_openai_images(valid_keys=("sk-one",))
    with server:
        gateway, client = room_for_one_image(start_gateway, server)
        try:
            body = {"model": "flux-dev", "prompt": "a fox"}
            first = httpx.post(
                f"{gateway.url}/v1/images/generations", json=body, headers=gateway.headers()
            )
            assert first.status_code == 200, first.text
            client.set(keys.IMAGES_IN_FLIGHT_BYTES, 2**30)  # as a full Redis could leave it
            refused = httpx.post(
                f"{gateway.url}/v1/images/generations", json=body, headers=gateway.headers()
            )
            assert refused.status_code == 503 and refused.json()["error"]["code"] == "cache_full"
            time.sleep(1.1)
            again = httpx.post(
                f"{gateway.url}/v1/images/generations",
                json=body,
                headers=gateway.headers(),
                timeout=30,
            )
            assert again.status_code == 200, again.text
            assert int(client.get(keys.IMAGES_IN_FLIGHT_BYTES)) == 0  # the worker took its own off
        finally:
            client.config_set("maxmemory", 0)
