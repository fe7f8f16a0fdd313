"""The Server-Sent Events answer of every streaming route: one ASGI send per chunk, the `Last`
one with the end of the body, and the stream cancelled once its client leaves."""

import asyncio
from collections.abc import AsyncGenerator, Iterable
from types import TracebackType
from typing import Any, final

from litestar import Request, Response
from litestar.background_tasks import BackgroundTask, BackgroundTasks
from litestar.datastructures import Cookie
from litestar.response.base import ASGIResponse
from litestar.types import Receive, Send

_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@final
class Last:
    """A stream's final chunk (its generator ends after it), sent with the end of the body:
    one write instead of two. A wrapper, not a bytes subclass, which would copy a
    multi-megabyte image frame."""

    __slots__ = ("chunk",)

    def __init__(self, chunk: bytes) -> None:
        self.chunk = chunk


Chunks = AsyncGenerator[bytes | Last, None]


class EventStream(Response[None]):
    """`text/event-stream` of `chunks`, each sent as it comes; frames made at one moment belong
    in one chunk."""

    __slots__ = ("chunks",)

    def __init__(self, chunks: Chunks) -> None:
        super().__init__(None, media_type="text/event-stream", headers=_HEADERS)
        self.chunks = chunks

    def to_asgi_response(
        self,
        app: Any,
        request: Request,
        *,
        background: BackgroundTask | BackgroundTasks | None = None,
        cookies: Iterable[Cookie] | None = None,
        headers: dict[str, str] | None = None,
        status_code: int | None = None,
        **_: Any,
    ) -> ASGIResponse:
        return _Streamed(
            self.chunks,
            background=self.background or background,
            cookies=[*self.cookies, *(cookies or ())],
            headers={**(headers or {}), **self.headers},
            media_type=self.media_type,
            status_code=self.status_code or status_code,
        )


class _Streamed(ASGIResponse):
    __slots__ = ("chunks",)
    _should_set_content_length = False

    def __init__(self, chunks: Chunks, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.chunks = chunks

    async def send_body(self, send: Send, receive: Receive) -> None:
        """Each chunk as it comes; the body ends with the generator (with its `Last` chunk)."""
        more = True
        try:
            with UntilClientLeaves(receive):
                async for chunk in self.chunks:
                    body, more = (chunk.chunk, False) if isinstance(chunk, Last) else (chunk, True)
                    await send({"type": "http.response.body", "body": body, "more_body": more})
                if more:
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await self.chunks.aclose()  # left at a yield if the client left during a send


class UntilClientLeaves:
    """Cancels the task inside it once the client leaves, wherever it waits (a Redis read, a
    send), and ends there, going on after the block: Litestar's streaming response does the
    same with an anyio task group, which costs more than the rest of a stream's sending. One
    listening task, where racing a second task for the wait would take two and asyncio.wait."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._inside = self._left = False

    def __enter__(self) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._task = task
        self._inside = True
        self._listener = asyncio.ensure_future(client_left(self._receive))
        self._listener.add_done_callback(self._cancel)

    def _cancel(self, listener: asyncio.Future[None]) -> None:
        if listener.cancelled():
            return
        listener.exception()  # an error receiving (api/body_deadline.py) means gone as well
        if self._inside:
            self._left = True
            self._task.cancel()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        self._inside = False
        self._listener.cancel()
        # Only our own cancellation ends here; one from outside (a shutdown) goes on.
        return self._left and self._task.uncancel() == 0 and kind is asyncio.CancelledError


async def client_left(receive: Receive) -> None:
    """Returns once the client has closed the connection (the request body was already read)."""
    while (await receive())["type"] != "http.disconnect":
        pass
