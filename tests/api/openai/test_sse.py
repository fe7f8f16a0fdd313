"""The progress stream, frame by frame: keep-alives while nothing happens, the answer, the end."""

import contextlib

import msgspec
import openai
import pytest

from api.jobs.wait import job_events
from api.openai import sse
from api.openai.chat_answer import ChunkWriter
from common.errors import ErrorInfo
from common.schemas import Completed, Failed, JobResult, Progress, StoredImage
from tests.api.test_event_stream import sent

IMAGE = StoredImage(id="a" * 32, content_type="image/png", extension="png", width=64, height=64)
RESULT = JobResult(images=(IMAGE,), model="m", prompt="a fox", original="a fox")


class ScriptedGateway:
    """A stand-in for JobClient whose job emits `events` (None: nothing within the wait)."""

    def __init__(self, events: list, timeout: float = 60) -> None:
        self.script, self.timeout = list(events), timeout

    @contextlib.asynccontextmanager
    async def follow(self, job_id: str):
        yield self

    async def next(self, timeout: float):
        return self.script.pop(0) if self.script else None

    async def events(self, job_id: str, ping_every: float | None = None):
        async for event in job_events(self, job_id, self.timeout, ping_every):
            yield event


async def chunks(events: list, timeout: float = 60) -> list[bytes]:
    followed = ScriptedGateway(events, timeout).events("job", sse.PING_EVERY)
    stream = sse.chat_stream(followed, ChunkWriter("chatcmpl-1", "m"), "http://h", False)
    return await sent(stream)


async def frames(events: list, timeout: float = 60) -> list[bytes]:
    """Each SSE frame on its own (a chunk may carry several)."""
    return [
        frame + b"\n\n"
        for chunk in await chunks(events, timeout)
        for frame in chunk.split(b"\n\n")[:-1]
    ]


async def test_quiet_stretches_send_comment_pings_and_the_answer_follows(monkeypatch):
    monkeypatch.setattr(sse, "PING_EVERY", 0.01)
    out = await frames([None, Progress("Generating"), None, Completed(RESULT)])
    assert out.count(b": ping\n\n") == 2
    assert out[-1] == b"data: [DONE]\n\n" and all(frame.endswith(b"\n\n") for frame in out)
    chunks = [msgspec.json.decode(f[6:]) for f in out if f.startswith(b"data: {")]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert (
        "![a fox](http://h/image/" + "a" * 32 + ".png)"
        in chunks[-2]["choices"][0]["delta"]["content"]
    )
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


async def test_frames_made_together_go_out_as_one_chunk_and_progress_as_it_comes():
    opening, progress, end = await chunks([Progress("Generating"), Completed(RESULT)])
    assert opening.count(b"data: ") == 2 and "⏳ Queued".encode() in opening  # with the role
    assert progress.count(b"data: ") == 1 and b"Generating" in progress
    assert end.count(b"data: ") == 3 and end.endswith(b"data: [DONE]\n\n")  # answer, stop


async def test_a_failure_after_the_stream_started_is_an_error_chunk_then_done():
    error = ErrorInfo(
        status=502, type="upstream_error", code="upstream_failed", message="every key failed"
    )
    out = await frames([Progress("Generating"), Failed(error)])
    assert msgspec.json.decode(out[-2][6:]) == {
        "error": {
            "message": "every key failed",
            "type": "upstream_error",
            "param": None,
            "code": "upstream_failed",
        }
    }
    assert out[-1] == b"data: [DONE]\n\n"


async def test_past_the_request_timeout_the_stream_ends_with_a_timeout_error():
    out = await frames([None, None, None], timeout=0.05)
    error = msgspec.json.decode(out[-2][6:])["error"]
    assert error["code"] == "request_timeout" and "job" in error["message"]


def test_the_sdk_reads_an_error_chunk_as_an_api_error(start_gateway):
    gateway = start_gateway({"REQUEST_TIMEOUT": "1"}, workers=0)
    gateway.park_a_worker()  # the job is admitted but never runs
    stream = gateway.client().chat.completions.create(
        model="placeholder", messages=[{"role": "user", "content": "a fox"}], stream=True
    )
    with pytest.raises(openai.APIError) as raised:
        for _ in stream:
            pass
    assert raised.value.code == "request_timeout"
