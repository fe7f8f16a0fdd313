"""Webhooks: signed per Standard Webhooks, retried with backoff, never in a generation slot
nor counted as an image waiting."""

import asyncio
import time

import httpx
import pytest
from aiohttp import web
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.fakes.server import FakeServer
from tests.gateway import Gateway

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ASYNC = {"Prefer": "respond-async"}


class Receiver:
    """A webhook receiver answering each POST with the next scripted status (then the last
    one); a status of 0 hangs until the test ends."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        self.server = FakeServer(app)

    async def _hook(self, request: web.Request) -> web.Response:
        await request.read()
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        if status == 0:
            await asyncio.sleep(60)
        return web.Response(status=status, text="ok")

    @property
    def url(self) -> str:
        return f"{self.server.url}/hook"

    def calls(self, count: int, timeout: float = 20) -> list:
        deadline = time.monotonic() + timeout
        while len(self.server.requests) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.server.requests


@pytest.fixture
def receiver():
    started: list[Receiver] = []

    def start(*statuses: int) -> Receiver:
        receiver = Receiver(*statuses)
        receiver.server.start()
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.server.stop()


@pytest.fixture(scope="module")
def checking(redis_server):
    """A gateway that signs webhooks, for the requests refused before anything is enqueued."""
    redis_server.flush()
    env = {"WEBHOOK_SECRET": SECRET, "WEBHOOK_ALLOW_HOSTS": "127.0.0.1"}
    with Gateway(redis_server.url, env).start() as gateway:
        yield gateway


def hooked_gateway(start_gateway, **env: str):
    return start_gateway(
        {
            "WEBHOOK_SECRET": SECRET,
            "WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
            "WEBHOOK_BACKOFF_SCALE": "0.01",
            **env,
        }
    )


def submit(
    gateway, webhook_url: str, prompt: str = "a harbour at night", **headers
) -> httpx.Response:
    return httpx.post(
        f"{gateway.url}/v1/images/generations",
        json={"prompt": prompt, "webhook_url": webhook_url},
        headers={**gateway.headers(), **headers},
        timeout=30,
    )


def pending(gateway) -> float:
    """What /metrics reports as webhook deliveries still to make."""
    for line in httpx.get(f"{gateway.url}/metrics").text.splitlines():
        if line.startswith("imagegate_webhook_deliveries_pending "):
            return float(line.split()[1])
    raise AssertionError("no imagegate_webhook_deliveries_pending in /metrics")


def deliveries(gateway) -> dict[str, float]:
    text = httpx.get(f"{gateway.url}/metrics").text
    found = {}
    for line in text.splitlines():
        if line.startswith("imagegate_webhook_deliveries_total{"):
            labels, value = line.rsplit(" ", 1)
            found[labels.split('"')[1]] = float(value)
    return found


def test_a_signed_webhook_arrives_after_a_failed_attempt(start_gateway, receiver):
    hook = receiver(500, 204)
    gateway = hooked_gateway(start_gateway)
    job = submit(gateway, hook.url, **ASYNC).json()
    first, second = hook.calls(2)
    assert first.headers["webhook-id"] == second.headers["webhook-id"]  # receivers dedupe by it
    payload = Webhook(SECRET).verify(second.body, second.headers)
    assert payload["id"] == job["id"] and payload["status"] == "succeeded"
    assert payload["result"]["data"][0]["url"].startswith(gateway.url)
    assert second.headers["webhook-signature"].startswith("v1,")
    assert deliveries(gateway) == {"retry": 1.0, "delivered": 1.0}
    forged = {**second.headers, "webhook-signature": "v1,AAAA"}
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(second.body, forged)


def test_a_synchronous_request_with_a_webhook_answers_as_usual_and_calls_back(
    start_gateway, receiver
):
    hook = receiver(200)
    gateway = hooked_gateway(start_gateway)
    answer = submit(gateway, hook.url)
    assert answer.status_code == 200 and answer.json()["data"]
    (call,) = hook.calls(1)
    assert Webhook(SECRET).verify(call.body, call.headers)["status"] == "succeeded"


def test_a_retry_with_the_same_idempotency_key_makes_no_second_job(start_gateway, receiver):
    hook = receiver(200)
    gateway = hooked_gateway(start_gateway)
    first, again = (submit(gateway, hook.url, **{"Idempotency-Key": "once"}) for _ in range(2))
    assert first.status_code == again.status_code == 200
    assert first.json()["data"] == again.json()["data"]
    listed = httpx.get(f"{gateway.url}/v1/jobs", headers=gateway.headers()).json()["data"]
    assert [job["status"] for job in listed] == ["succeeded"]


def test_a_receiver_that_fails_forever_is_given_up_after_max_attempts(start_gateway, receiver):
    hook = receiver(503)
    gateway = hooked_gateway(start_gateway, WEBHOOK_MAX_ATTEMPTS="3")
    submit(gateway, hook.url, **ASYNC)
    assert len(hook.calls(3)) == 3
    deadline = time.monotonic() + 10
    while deliveries(gateway).get("gave_up") != 1.0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert deliveries(gateway) == {"retry": 2.0, "gave_up": 1.0}
    time.sleep(1.5)  # a fourth attempt would have come by now (backoff 0.3 s scaled)
    assert len(hook.server.requests) == 3


def test_a_4xx_ends_the_delivery_at_once(start_gateway, receiver):
    hook = receiver(410)
    gateway = hooked_gateway(start_gateway)
    submit(gateway, hook.url, **ASYNC)
    assert len(hook.calls(1)) == 1
    time.sleep(1.5)
    assert len(hook.server.requests) == 1
    assert deliveries(gateway) == {"failed": 1.0}


def test_a_hanging_receiver_never_holds_a_generation_slot(start_gateway, receiver):
    hook = receiver(0)
    gateway = hooked_gateway(start_gateway, WORKER_CONCURRENCY="1")
    submit(gateway, hook.url, **ASYNC)
    hook.calls(1)  # the delivery hangs from here on
    answer = httpx.post(
        f"{gateway.url}/v1/images/generations",
        json={"prompt": "made while the webhook hangs"},
        headers=gateway.headers(),
        timeout=8,
    )
    assert answer.status_code == 200


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("ftp://127.0.0.1/hook", "http(s)"),
        ("http://localhost:9/hook", "private"),
        ("http://10.1.2.3/hook", "private"),
        ("http://169.254.169.254/latest/meta-data", "private"),
        ("not a url", "http(s)"),
    ],
)
def test_bad_webhook_urls_are_400_with_nothing_enqueued(checking, url, says):
    gateway = checking
    answer = submit(gateway, url, **ASYNC)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["param"] == "webhook_url"
    assert says in answer.json()["error"]["message"]
    listed = httpx.get(f"{gateway.url}/v1/jobs", headers=gateway.headers()).json()
    assert listed["data"] == []


def test_a_webhook_without_a_secret_configured_is_400(start_gateway, receiver):
    gateway = start_gateway()
    answer = submit(gateway, receiver(200).url, **ASYNC)
    assert answer.status_code == 400
    assert "WEBHOOK_SECRET" in answer.json()["error"]["message"]


def test_a_retry_waiting_in_the_queue_survives_a_worker_restart(start_gateway, receiver):
    hook = receiver(500, 200)
    # The first retry waits 5 s × 0.2 = 1 s: long enough to replace the only worker.
    gateway = hooked_gateway(start_gateway, WEBHOOK_BACKOFF_SCALE="0.2")
    job = submit(gateway, hook.url, **ASYNC).json()
    hook.calls(1)
    gateway.workers[0].stop()
    gateway.add_worker()
    first, second = hook.calls(2, timeout=30)
    assert Webhook(SECRET).verify(second.body, second.headers)["id"] == job["id"]
    assert first.headers["webhook-id"] == second.headers["webhook-id"]


def test_retries_waiting_for_a_receiver_never_fill_the_image_queue(start_gateway, receiver):
    hook = receiver(503)
    # Unscaled backoff: each job's retry waits 5 s, then 30 s, deferred in the queue.
    gateway = hooked_gateway(start_gateway, MAX_QUEUE_DEPTH="2", WEBHOOK_BACKOFF_SCALE="1")
    for n in range(3):
        assert submit(gateway, hook.url, f"called back later {n}").status_code == 200
    deadline = time.monotonic() + 20
    while pending(gateway) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(hook.calls(3)) >= 3
    for n in range(3):
        answer = httpx.post(
            f"{gateway.url}/v1/images/generations",
            json={"prompt": f"made while the retries wait {n}"},
            headers=gateway.headers(),
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
    # Images that really wait (no worker takes them) still fill the queue.
    gateway.workers[0].stop()
    gateway.park_a_worker()
    queued = [submit(gateway, hook.url, f"waiting {n}", **ASYNC) for n in range(2)]
    assert [answer.status_code for answer in queued] == [202, 202]
    refused = submit(gateway, hook.url, "one too many", **ASYNC)
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "queue_full"
    listed = httpx.get(f"{gateway.url}/v1/jobs", headers=gateway.headers()).json()["data"]
    assert [job["status"] for job in listed] == ["queued"] * 2 + ["succeeded"] * 3
    assert pending(gateway) == 3  # one per job, still there for the next worker
