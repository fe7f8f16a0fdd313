"""A hostile OpenAI-compatible upstream: each magic word in the prompt picks one attack.

`__gzip_bomb__` a 2 KB answer declared `Content-Encoding: gzip, gzip` inflating to 1.2 GB;
`__fifty_urls__` 50 image URLs whatever `n` asked for; `__deep_json__` an answer nested 100k
levels; `__deep_error__` the same as a 500 error body; `__empty_data__` `{"data": []}`;
`__huge_sides__` a PNG header claiming 100000x100000; `__address_error__` a 400 whose text
quotes internal addresses; `__other_port__ <url>` an image URL on the fake's own host but
another port (the URL follows the magic word). Anything else: one small real PNG.
"""

import base64
import re
import struct
import zlib
from collections import Counter

from aiohttp import web

from tests.fakes.server import FakeServer
from worker.render.png import solid_png

GENERATIONS = "/v1/images/generations"
BOMB_BYTES = 1200 * 2**20
DEEP = 100_000
ADDRESS_ERROR = (
    "Invalid size: the renderer at 10.1.2.3:6379 (also internal-render.svc:8080, "
    "[fd00::7]:443 and localhost:9000) refused it"
)
_OTHER_PORT = re.compile(r"__other_port__ (\S+)")


def gzip_bomb(size: int = BOMB_BYTES) -> bytes:
    """`size` zero bytes gzipped twice, built in pieces so the test itself stays small."""
    inner = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1 << 20)
    once = b"".join(inner.compress(zeros) for _ in range(size >> 20)) + inner.flush()
    outer = zlib.compressobj(9, zlib.DEFLATED, 31)
    return outer.compress(once) + outer.flush()


def png_header(width: int, height: int) -> bytes:
    """A PNG signature and IHDR claiming `width` x `height`, with nothing after it."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk


class HostileUpstream:
    """The app, and how many times each image path was downloaded."""

    def __init__(self) -> None:
        self.downloads: Counter[str] = Counter()
        self.image = solid_png(16, 16, (10, 120, 200))
        self._bomb: bytes | None = None
        self.app = web.Application()
        self.app.router.add_post(GENERATIONS, self._generate)
        self.app.router.add_get("/files/{name}", self._file)

    def bomb(self) -> bytes:
        if self._bomb is None:
            self._bomb = gzip_bomb()
        return self._bomb

    async def _generate(self, request: web.Request) -> web.Response:
        prompt = (await request.json()).get("prompt", "")
        origin = str(request.url.origin())
        if "__gzip_bomb__" in prompt:
            return web.Response(
                body=self.bomb(),
                headers={"Content-Type": "application/json", "Content-Encoding": "gzip, gzip"},
            )
        if "__fifty_urls__" in prompt:
            return web.json_response({"data": [{"url": f"{origin}/files/{n}"} for n in range(50)]})
        if "__deep_json__" in prompt or "__deep_error__" in prompt:
            body = b'{"data": ' + b"[" * DEEP + b"]" * DEEP + b"}"
            status = 500 if "__deep_error__" in prompt else 200
            return web.Response(body=body, status=status, content_type="application/json")
        if "__empty_data__" in prompt:
            return web.json_response({"data": []})
        if "__huge_sides__" in prompt:
            fake = base64.b64encode(png_header(100_000, 100_000)).decode()
            return web.json_response({"data": [{"b64_json": fake}]})
        if "__address_error__" in prompt:
            error = {"message": ADDRESS_ERROR, "type": "invalid_request_error", "code": None}
            return web.json_response({"error": error}, status=400)
        if other := _OTHER_PORT.search(prompt):
            return web.json_response({"data": [{"url": other.group(1)}]})
        return web.json_response({"data": [{"b64_json": base64.b64encode(self.image).decode()}]})

    async def _file(self, request: web.Request) -> web.Response:
        self.downloads[request.match_info["name"]] += 1
        return web.Response(body=self.image, content_type="image/png")


def start_hostile() -> tuple[FakeServer, HostileUpstream]:
    fake = HostileUpstream()
    return FakeServer(fake.app).start(), fake
