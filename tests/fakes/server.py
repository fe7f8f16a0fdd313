"""Run an aiohttp app on a free local port in a background thread, recording every request."""

import asyncio
import json
import socket
import threading
from typing import Any, Self

import msgspec
from aiohttp import web

# In-flight handlers (a `__slow:30__` request, say) get this long before stop() cancels them.
SHUTDOWN_TIMEOUT = 0.2


class RecordedRequest(msgspec.Struct, frozen=True):
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lowercase names
    json: Any  # the parsed body, or None when it is empty or not JSON
    body: bytes


class FakeServer:
    """One fake upstream on `127.0.0.1:<free port>`, served by its own event loop and thread.

    Usable from sync and async tests alike: the server never shares the test's event loop.
    """

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.url = ""
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        app.middlewares.insert(0, self._record)

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()

    def requests_to(self, path: str, method: str | None = None) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path and method in (None, r.method)]

    def json_bodies(self, path: str) -> list[Any]:
        """The parsed JSON bodies received on `path`, oldest first."""
        return [r.json for r in self.requests_to(path)]

    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError("the fake server is already running")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self._loop = asyncio.new_event_loop()
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
        ready = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._serve, args=(sock, ready, failure), name=f"fake-{self.url}", daemon=True
        )
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._thread = None
            raise failure[0]
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        assert self._loop is not None and self._runner is not None
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._thread = None

    async def _shutdown(self) -> None:
        """Clean up, then cancel and await whatever handlers are left (a `__slow__` request):
        a loop stopped with tasks pending makes Python print warnings at exit."""
        await self._runner.cleanup()
        leftovers = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in leftovers:
            task.cancel()
        await asyncio.gather(*leftovers, return_exceptions=True)

    @property
    def running(self) -> bool:
        return self._thread is not None

    def __enter__(self) -> Self:
        # `with start_openai_images()[0]:` enters a server that is already running.
        return self if self.running else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return self.__enter__()

    async def __aexit__(self, *exc_info: object) -> None:
        # Blocking is safe and brief: the server runs on its own loop, not the caller's.
        self.stop()

    def _serve(self, sock: socket.socket, ready: threading.Event, failure: list) -> None:
        loop, runner = self._loop, self._runner
        assert loop is not None and runner is not None
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.SockSite(runner, sock).start())
        except BaseException as exc:  # handed to start(), which raises it in the caller
            failure.append(exc)
            sock.close()
            loop.close()
            ready.set()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        # Recorded before handling, so a test sees a slow request while it is still in flight.
        body = await request.read()
        with self._lock:
            self._requests.append(
                RecordedRequest(
                    method=request.method,
                    path=request.path,
                    query=dict(request.query),
                    headers={k.lower(): v for k, v in request.headers.items()},
                    json=_parse_json(body),
                    body=body,
                )
            )
        return await handler(request)


def _parse_json(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None
