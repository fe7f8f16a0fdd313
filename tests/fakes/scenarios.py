"""What the fake upstreams share: keys with behaviours, magic words, and images served by URL.

A failure or odd answer is picked by the key (`key_behaviour`) or by a magic word in the
prompt: `__rate_limited__` selects the scenario `rate_limited`, `__slow:2.5__` waits first.
Each fake answers its scenarios with its own upstream's status codes and bodies.
"""

import asyncio
import io
import re
import secrets
import time
from collections.abc import Iterable, Mapping
from urllib.parse import urlencode

from aiohttp import web
from multipart import MultipartParser

from tests.fakes.payloads import CLOUDFLARE_CHALLENGE_HTML, ImageMaker, huge_png

MAGIC = re.compile(r"__([a-z0-9_]+)__")
SLOW = re.compile(r"__slow:(\d+(?:\.\d+)?)__")
# Answers about the image URL rather than the image, the same for every fake that sends URLs.
URL_SCENARIOS = frozenset({"private_url", "redirect_3", "redirect_4", "huge_image", "not_an_image"})
PRIVATE_IMAGE_URL = "http://10.23.45.67/internal/image.png"  # a private address, never our host


class FakeUpstream:
    """Accepted keys, per-key behaviours, every image produced, and the files served by URL."""

    scenarios: frozenset[str] = frozenset()

    def __init__(
        self, valid_keys: Iterable[str] = (), key_behaviour: Mapping[str, str] | None = None
    ) -> None:
        self.valid_keys = set(valid_keys)
        self.key_behaviour = dict(key_behaviour or {})
        if unknown := set(self.key_behaviour.values()) - self.scenarios:
            raise ValueError(
                f"unknown scenarios {sorted(unknown)}; known: {sorted(self.scenarios)}"
            )
        self.images = ImageMaker()
        self.files: dict[str, tuple[bytes, str]] = {}

    @property
    def produced(self) -> list[bytes]:
        return self.images.produced

    def knows(self, key: str) -> bool:
        return key in self.valid_keys or key in self.key_behaviour

    def scenario(self, key: str | None, prompt: str) -> str | None:
        """The key's behaviour, else the first magic word naming one of this fake's scenarios."""
        if key in self.key_behaviour:
            return self.key_behaviour[key]
        return next((word for word in MAGIC.findall(prompt) if word in self.scenarios), None)

    async def maybe_slow(self, prompt: str) -> None:
        if slow := SLOW.search(prompt):
            await asyncio.sleep(float(slow.group(1)))

    def add_file_routes(self, app: web.Application) -> None:
        app.router.add_get("/files/{name}", self._file)
        app.router.add_get("/redirect/{hops}/{name}", self._redirect)

    def image_url(
        self, request: web.Request, image: bytes, content_type: str, scenario: str | None = None
    ) -> str:
        """A signed-looking URL to `image` on this fake, or the URL a URL scenario calls for."""
        if scenario == "private_url":
            return PRIVATE_IMAGE_URL
        name = f"img-{secrets.token_hex(8)}"
        if scenario == "huge_image":
            image, content_type = huge_png(), "image/png"
        elif scenario == "not_an_image":
            image, content_type = b"<!DOCTYPE html><html><body>expired</body></html>", "text/html"
        self.files[name] = (image, content_type)
        query = urlencode(
            {"Expires": int(time.time()) + 3600, "Signature": secrets.token_urlsafe(24)}
        )
        hops = {"redirect_3": 3, "redirect_4": 4}.get(scenario or "")
        path = f"/redirect/{hops}/{name}" if hops else f"/files/{name}"
        return f"{request.url.origin()}{path}?{query}"

    async def _file(self, request: web.Request) -> web.Response:
        stored = self.files.get(request.match_info["name"])
        if stored is None:
            return web.Response(status=404, text="NoSuchKey", content_type="text/plain")
        return web.Response(body=stored[0], content_type=stored[1])

    async def _redirect(self, request: web.Request) -> web.Response:
        hops, name = int(request.match_info["hops"]), request.match_info["name"]
        target = f"/redirect/{hops - 1}/{name}" if hops > 1 else f"/files/{name}"
        raise web.HTTPFound(target)


def challenge_page(**headers: str) -> web.Response:
    """The bot-challenge page a CDN answers in front of any upstream's API (scenario `__cf__`)."""
    return web.Response(
        status=403, text=CLOUDFLARE_CHALLENGE_HTML, content_type="text/html", headers=headers
    )


def bearer_key(request: web.Request) -> str | None:
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    return key.strip() if scheme.lower() == "bearer" and key.strip() else None


async def json_object(request: web.Request) -> dict | None:
    try:
        body = await request.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


FileParts = list[tuple[str, str, str, bytes]]  # (field name, filename, content type, bytes)


async def form_parts(request: web.Request) -> tuple[dict[str, str], FileParts] | None:
    """A multipart body's text fields and file parts; None for any other body."""
    # Parsed from the whole body: the recording middleware has read it already.
    boundary = request.content_type == "multipart/form-data" and dict(
        part.strip().split("=", 1) for part in request.headers["Content-Type"].split(";")[1:]
    ).get("boundary", "").strip('"')
    if not boundary:
        return None
    fields: dict[str, str] = {}
    files: FileParts = []
    for part in MultipartParser(io.BytesIO(await request.read()), boundary):
        if part.filename is None:
            fields[part.name] = part.value
        else:
            files.append((part.name, part.filename, part.content_type, part.raw))
    return fields, files
