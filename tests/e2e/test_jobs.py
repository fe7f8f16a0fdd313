"""Background jobs: Prefer: respond-async and wait=N, polling, listing, events and cancel."""

import time
from base64 import b64decode, b64encode

import httpx
import pytest
from httpx_sse import connect_sse

from tests.e2e.test_chat_completions import openai_env
from tests.gateway import GATEWAY_KEY, Gateway
from worker.render.png import solid_png

OTHER_KEY = "ig-other-key"
ASYNC = {"Prefer": "respond-async"}
JOB_KEYS = {
    "id",
    "object",
    "status",
    "model",
    "created_at",
    "started_at",
    "finished_at",
    "queue_position",
    "progress",
    "result",
    "error",
    "urls",
}


@pytest.fixture(scope="module")
def gateway(redis_server, openai_upstream):
    server, _ = openai_upstream
    redis_server.flush()
    env = {**openai_env(server.url), "WORKER_CONCURRENCY": "1", "GATEWAY_API_KEYS": OTHER_KEY}
    with Gateway(redis_server.url, env).start() as gateway:
        yield gateway


@pytest.fixture
def http(gateway):
    with httpx.Client(base_url=gateway.url, headers=gateway.headers(), timeout=30) as client:
        yield client


def submit(http: httpx.Client, prompt: str, **extra) -> httpx.Response:
    body = {"model": "flux-dev", "prompt": prompt, **extra}
    return http.post("/v1/images/generations", json=body, headers=ASYNC)


def poll(http: httpx.Client, job_id: str, until=("succeeded", "failed", "canceled")) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = http.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in until:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} stayed {job['status']}")


def upstream_prompts(server) -> list[str]:
    return [body["prompt"] for body in server.json_bodies("/v1/images/generations")]


def test_respond_async_answers_202_then_the_job_succeeds_with_the_routes_answer(gateway, http):
    submitted = submit(http, "a lighthouse at dusk")
    assert submitted.status_code == 202
    job = submitted.json()
    assert set(job) == JOB_KEYS and job["object"] == "image.job"
    assert job["status"] in ("queued", "in_progress", "succeeded")
    assert submitted.headers["location"] == f"{gateway.url}/v1/jobs/{job['id']}"
    assert job["urls"]["events"] == f"{gateway.url}/v1/jobs/{job['id']}/events"
    done = poll(http, job["id"])
    assert done["status"] == "succeeded", done
    assert done["error"] is None and done["queue_position"] is None
    assert done["finished_at"] >= done["started_at"] >= done["created_at"]
    url = done["result"]["data"][0]["url"]
    image = httpx.get(url)
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")


def test_chat_with_the_openai_sdk_gets_a_job_whose_result_is_a_chat_completion(gateway, http):
    raw = gateway.client().chat.completions.with_raw_response.create(
        model="flux-dev",
        messages=[{"role": "user", "content": "a teapot on the moon"}],
        extra_headers=ASYNC,
    )
    assert raw.http_response.status_code == 202
    done = poll(http, raw.http_response.json()["id"])
    result = done["result"]
    assert result["object"] == "chat.completion"
    assert "![" in result["choices"][0]["message"]["content"]


def test_prefer_wait_gives_the_normal_answer_when_done_in_time(http):
    answer = http.post(
        "/v1/images/generations",
        json={"model": "flux-dev", "prompt": "a quick sketch"},
        headers={"Prefer": "wait=20"},
    )
    assert answer.status_code == 200
    assert answer.json()["data"][0]["url"].startswith("http")


def test_prefer_wait_answers_202_when_the_job_takes_longer(http):
    answer = http.post(
        "/v1/images/generations",
        json={"model": "flux-dev", "prompt": "__slow:2__ a slow sketch"},
        headers={"Prefer": "wait=1"},
    )
    assert answer.status_code == 202
    assert poll(http, answer.json()["id"])["status"] == "succeeded"


def test_the_events_of_a_job_that_already_ended_are_replayed(http):
    job_id = submit(http, "a red kite").json()["id"]
    poll(http, job_id)
    with connect_sse(http, "GET", f"/v1/jobs/{job_id}/events") as source:
        events = [(event.event, event.json()) for event in source.iter_sse()]
    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "done" and kinds.count("done") == 1
    assert "progress" in kinds and all(kind == "progress" for kind in kinds[:-1])
    assert events[-1][1]["status"] == "succeeded"
    assert any("flux-dev" in data["text"] for kind, data in events if kind == "progress")


def test_a_cancelled_queued_job_never_reaches_the_upstream(http, openai_upstream):
    server, _ = openai_upstream
    busy = submit(http, "__slow:3__ the job that fills the only slot").json()["id"]
    poll(http, busy, until=("in_progress",))
    queued = submit(http, "a job cancelled while it waits").json()
    assert queued["status"] == "queued" and queued["queue_position"] == 0
    cancelled = http.post(f"/v1/jobs/{queued['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "canceled"
    assert http.post(f"/v1/jobs/{queued['id']}/cancel").status_code == 200  # again: 200
    assert poll(http, busy)["status"] == "succeeded"
    after = submit(http, "the job after").json()["id"]
    assert poll(http, after)["status"] == "succeeded"  # the slot went to the next job
    assert "a job cancelled while it waits" not in upstream_prompts(server)
    job = http.get(f"/v1/jobs/{queued['id']}").json()
    assert job["status"] == "canceled" and job["result"] is None and job["started_at"] is None


def test_a_running_job_is_abandoned_at_once_when_cancelled(http, openai_upstream):
    server, _ = openai_upstream
    job_id = submit(http, "__slow:4__ a job cancelled while it runs").json()["id"]
    poll(http, job_id, until=("in_progress",))
    started = time.monotonic()
    assert http.post(f"/v1/jobs/{job_id}/cancel").json()["status"] == "canceled"
    # The slot is free again at once: the next job does not wait out the abandoned call.
    after = submit(http, "right after the cancel").json()["id"]
    assert poll(http, after)["status"] == "succeeded"
    assert time.monotonic() - started < 3.5
    job = http.get(f"/v1/jobs/{job_id}").json()
    assert job["status"] == "canceled" and job["result"] is None


def test_cancelling_a_finished_job_is_409(http):
    job_id = submit(http, "a finished job").json()["id"]
    poll(http, job_id)
    answer = http.post(f"/v1/jobs/{job_id}/cancel")
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "job_finished"


def test_jobs_are_listed_newest_first_and_seen_only_by_the_key_that_made_them(gateway, http):
    other = {"Authorization": f"Bearer {OTHER_KEY}"}
    mine = [submit(http, f"listed job {i}").json()["id"] for i in range(3)]
    theirs = http.post(
        "/v1/images/generations",
        json={"model": "flux-dev", "prompt": "another key's job"},
        headers={**ASYNC, **other},
    ).json()["id"]
    first = http.get("/v1/jobs", params={"limit": 2}).json()
    assert first["object"] == "list" and first["has_more"] is True
    assert [job["id"] for job in first["data"]] == mine[::-1][:2]
    rest = http.get("/v1/jobs", params={"limit": 100, "after": first["data"][-1]["id"]}).json()
    assert rest["data"][0]["id"] == mine[0]
    assert theirs not in {job["id"] for job in first["data"] + rest["data"]}
    for method, path in (("GET", ""), ("GET", "/events"), ("POST", "/cancel")):
        assert http.request(method, f"/v1/jobs/{mine[0]}{path}", headers=other).status_code == 404
    assert http.get(f"/v1/jobs/{theirs}", headers=other).status_code == 200
    assert GATEWAY_KEY != OTHER_KEY


@pytest.mark.parametrize(
    ("method", "path", "headers", "status", "says"),
    [
        ("GET", "/v1/jobs/0123456789abcdef0123456789abcdef", {}, 404, "no job"),
        ("POST", "/v1/jobs/nope/cancel", {}, 404, "no job"),
        ("GET", "/v1/jobs?limit=0", {}, 400, "limit"),
        ("GET", "/v1/jobs?limit=101", {}, 400, "limit"),
        ("POST", "/v1/images/generations", {"Prefer": "wait=600"}, 400, "60"),
        ("POST", "/v1/images/generations", {"Prefer": "wait=soon"}, 400, "seconds"),
    ],
)
def test_bad_input(http, method, path, headers, status, says):
    body = {"model": "flux-dev", "prompt": "x"} if method == "POST" else None
    answer = http.request(method, path, json=body, headers=headers)
    assert answer.status_code == status, answer.text
    assert says in answer.json()["error"]["message"]


def test_an_edit_in_the_background_keeps_the_bytes_it_was_asked_for(start_gateway):
    gateway = start_gateway()  # the placeholder model, which edits
    source = solid_png(64, 64, (30, 30, 200))
    with httpx.Client(base_url=gateway.url, headers=gateway.headers(), timeout=30) as http:
        submitted = http.post(
            "/v1/images/edits",
            json={
                "prompt": "make it night",
                "response_format": "b64_json",
                "images": [{"image_url": "data:image/png;base64," + b64encode(source).decode()}],
            },
            headers=ASYNC,
        )
        assert submitted.status_code == 202, submitted.text
        done = poll(http, submitted.json()["id"])
    assert done["status"] == "succeeded", done
    (item,) = done["result"]["data"]
    assert "url" not in item and b64decode(item["b64_json"]).startswith(b"\x89PNG")
    assert done["result"]["output_format"] == "png"


def test_a_browser_script_may_read_where_to_poll(http):
    answer = http.post(
        "/v1/images/generations",
        json={"model": "flux-dev", "prompt": "from a web page"},
        headers={**ASYNC, "Origin": "https://app.example"},
    )
    assert answer.status_code == 202
    assert "location" in answer.headers["access-control-expose-headers"].lower()
