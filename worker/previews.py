"""Relaying an upstream's partial images to a streaming client as the job's Preview events."""

import asyncio
from functools import partial

from common.limits import MAX_PREVIEW_BYTES
from common.schemas import Preview
from common.store.events import EventLog
from worker.providers.base import Report
from worker.render.reencode import format_of, reencode
from worker.upstream.sniff import sniff

PREVIEW_QUALITY = 75  # WebP quality of a preview too large to relay as it came


class PreviewRelay:
    """At most `limit` previews of each image of a job, each a recognised image of at most
    MAX_PREVIEW_BYTES (a larger one is re-encoded as WebP, else dropped), numbered per image
    in the order they come. They ride the job's event stream, which expires with the job."""

    def __init__(self, events: EventLog, job_id: str, limit: int) -> None:
        self._events = events
        self._job_id = job_id
        self._limit = limit
        self._sent: dict[int, int] = {}

    def report(self, first: int) -> Report:
        """The Report of the upstream call that makes the job's images from index `first`."""
        return Report(self._limit, partial(self._publish, first=first) if self._limit else None)

    async def _publish(self, data: bytes, image: int, *, first: int) -> None:
        image += first
        index = self._sent.get(image, 0)
        info = sniff(data)
        if index >= self._limit or info is None:
            return
        if len(data) > MAX_PREVIEW_BYTES:
            data, shrunk = await asyncio.to_thread(reencode, data, "webp", PREVIEW_QUALITY)
            if len(data) > MAX_PREVIEW_BYTES:
                return
            info = shrunk
        self._sent[image] = index + 1
        preview = Preview(
            data=data,
            image=image,
            index=index,
            output_format=format_of(info),
            width=info.width,
            height=info.height,
        )
        await self._events.append(self._job_id, preview)
