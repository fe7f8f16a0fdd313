"""A deadline for a request's whole body (REQUEST_BODY_TIMEOUT), counted from the end of its
headers: a client trickling a body a byte every few seconds would otherwise hold its
connection, its handler and the bytes buffered so far for as long as it liked (uvicorn's
timeout_keep_alive only covers idle connections between requests).

`receive` is wrapped once for every route: the handler reading the body gets a 408 in the
OpenAI shape, and the connection is closed after it since the rest of the body was never read.
A body still coming after its request was answered early (a 401 before any read) is cut off
by the HTTP protocol at the same deadline (imagegate/http_protocol.py). A client that leaves
before its body ended is a 499 (ClientClosedRequest), not Litestar's 500."""

import asyncio

from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send

from common.errors import BodyTimeout, ClientClosedRequest

_CLOSE = (b"connection", b"close")


def body_deadline(app: ASGIApp, timeout: float) -> ASGIApp:
    async def handler(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await app(scope, receive, send)
        due = asyncio.get_running_loop().time() + timeout
        whole = started = late = False

        async def bounded_receive() -> ReceiveMessage:
            nonlocal whole, late
            if whole:  # from here on only a disconnect can come: no deadline
                return await receive()
            if not late:
                try:
                    async with asyncio.timeout_at(due):
                        message = await receive()
                except TimeoutError:
                    late = True
                    if not started:
                        raise BodyTimeout(
                            f"the request body did not arrive within {timeout:g} s "
                            "(REQUEST_BODY_TIMEOUT)"
                        ) from None
                else:
                    if message["type"] == "http.disconnect":  # gone before its body ended
                        raise ClientClosedRequest("the client left while sending its request body")
                    whole = not message.get("more_body")
                    return message
            return {"type": "http.disconnect"}  # the rest of the body is never read

        async def send_closing(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if late:
                    message["headers"] = [*message.get("headers", ()), _CLOSE]
            await send(message)

        await app(scope, bounded_receive, send_closing)

    return handler
