"""Previews are relayed as Preview events: at most `partial_images` per image, each an image
under the size cap, numbered per image."""

from common.limits import MAX_PREVIEW_BYTES
from common.schemas import Preview
from tests.fakes.payloads import encoded
from worker.previews import PreviewRelay


class Events:
    def __init__(self) -> None:
        self.appended: list[tuple[str, object]] = []

    async def append(self, job_id: str, event: object, pipe=None) -> None:
        self.appended.append((job_id, event))


PNG = encoded(32, 16, (9, 9, 9), "png", False)


async def test_each_image_gets_at_most_its_previews_numbered_from_zero():
    events = Events()
    relay = PreviewRelay(events, "job", 2)
    first, second = relay.report(0), relay.report(1)  # two upstream calls of one image each
    for _ in range(3):
        await first.preview(PNG)
    await second.preview(PNG)
    previews = [event for _, event in events.appended]
    assert [(p.image, p.index) for p in previews] == [(0, 0), (0, 1), (1, 0)]
    assert previews[0] == Preview(
        data=PNG, image=0, index=0, output_format="png", width=32, height=16
    )


async def test_unrecognisable_previews_are_dropped_and_oversized_ones_shrunk():
    events = Events()
    report = PreviewRelay(events, "job", 3).report(0)
    await report.preview(b"not an image")
    await report.preview(PNG + bytes(MAX_PREVIEW_BYTES))  # a PNG padded past the cap
    [(_, preview)] = events.appended
    assert preview.output_format == "webp" and len(preview.data) < MAX_PREVIEW_BYTES
    assert (preview.width, preview.height, preview.index) == (32, 16, 0)


async def test_no_previews_asked_means_the_adapter_is_told_none():
    report = PreviewRelay(Events(), "job", 0).report(0)
    assert report.previews == 0
