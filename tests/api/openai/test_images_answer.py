"""The images event stream, frame by frame: previews, one completed per image, pings, the
error event, the timeout, and no [DONE]."""

import base64
import contextlib

import msgspec

from api.jobs.wait import job_events
from api.openai import images_answer
from common.errors import ErrorInfo
from common.schemas import (
    Completed,
    Failed,
    GenerateJob,
    ImageOptions,
    ImageUsage,
    JobResult,
    Preview,
    Progress,
    StoredImage,
)
from common.store.images import CachedImage
from tests.api.test_event_stream import sent

IMAGES = tuple(
    StoredImage(id=c * 32, content_type="image/webp", extension="webp", width=64, height=32)
    for c in "ab"
)
RESULT = JobResult(
    images=IMAGES,
    model="m",
    prompt="a fox",
    original="a fox",
    quality="high",
    image_usage=ImageUsage(input_tokens=5, output_tokens=100, text_tokens=5),
)
JOB = GenerateJob(
    id="j",
    request_id="r",
    model="m",
    prompt="a fox",
    original="a fox",
    n=2,
    options=ImageOptions(background="transparent"),
)


class Store:
    async def get(self, image_id: str):
        return CachedImage(IMAGES[0], image_id.encode(), 60)


class ScriptedGateway:
    """A stand-in for JobClient whose job emits `script` (None: nothing within the wait)."""

    def __init__(self, script: list, timeout: float = 60) -> None:
        self.script, self.timeout, self.images = list(script), timeout, Store()

    @contextlib.asynccontextmanager
    async def follow(self, job_id: str):
        yield self

    async def next(self, timeout: float):
        return self.script.pop(0) if self.script else None

    async def vanished(self, job_id: str) -> bool:
        return False

    async def events(self, job_id: str, ping_every: float | None = None):
        async for event in job_events(self, job_id, self.timeout, ping_every):
            yield event


async def frames(script: list, prefix: str = "image_generation", timeout: float = 60):
    gateway = ScriptedGateway(script, timeout)
    events = gateway.events("j", images_answer.PING_EVERY)
    stream = images_answer.images_stream(events, gateway.images, JOB, prefix)
    return await sent(stream)


def parsed(frame: bytes) -> tuple[str, dict]:
    event, data = frame.decode().removesuffix("\n\n").split("\n")
    return event.removeprefix("event: "), msgspec.json.decode(data.removeprefix("data: "))


async def test_previews_then_one_completed_per_image_and_the_usage_on_the_last(monkeypatch):
    monkeypatch.setattr(images_answer, "PING_EVERY", 0.01)
    preview = Preview(data=b"p", image=0, index=0, output_format="png", width=16, height=8)
    out = await frames([Progress("Generating"), None, preview, Completed(RESULT)], "image_edit")
    assert out[0] == images_answer.PING
    [(name, partial), (first_name, first), (_, last)] = [parsed(f) for f in out[1:]]
    assert name == "image_edit.partial_image" and partial["type"] == name
    assert partial | {"created_at": 0} == {
        "type": "image_edit.partial_image",
        "b64_json": base64.b64encode(b"p").decode(),
        "created_at": 0,
        "size": "16x8",
        "quality": "auto",
        "background": "transparent",
        "output_format": "png",
        "partial_image_index": 0,
    }
    assert first_name == "image_edit.completed"
    assert base64.b64decode(first["b64_json"]) == b"a" * 32
    assert (first["size"], first["quality"], first["output_format"]) == ("64x32", "high", "webp")
    assert first["usage"]["total_tokens"] == 0 and last["usage"] == {
        "input_tokens": 5,
        "input_tokens_details": {"text_tokens": 5, "image_tokens": 0},
        "output_tokens": 100,
        "total_tokens": 105,
    }
    assert all(b"[DONE]" not in frame for frame in out)


async def test_a_failure_is_an_error_event_and_the_end():
    error = ErrorInfo(status=502, type="upstream_error", code="upstream_failed", message="no")
    out = await frames([Failed(error), Completed(RESULT)])
    assert [parsed(f) for f in out] == [
        (
            "error",
            {
                "type": "error",
                "error": {
                    "message": "no",
                    "type": "upstream_error",
                    "param": None,
                    "code": "upstream_failed",
                },
            },
        )
    ]


async def test_past_the_request_timeout_the_stream_ends_with_a_timeout_error(monkeypatch):
    monkeypatch.setattr(images_answer, "PING_EVERY", 0.01)
    out = await frames([], timeout=0.05)
    name, data = parsed(out[-1])
    assert name == "error" and data["error"]["code"] == "request_timeout"
    assert set(out[:-1]) == {images_answer.PING}
