"""The worker's one HTTP client: httpx's API over one aiohttp session, and that session called
directly for the upstream POSTs every job makes (worker/upstream/http.py).

Why both: httpx's own pure-Python pool cost milliseconds of CPU per large answer under
concurrency, so the client runs on httpx-aiohttp's transport; and the httpx layer above it
(its request and response models, send chain and stream wrappers) still cost about half of
each upstream call's CPU, 150–250 µs of a 262 KB answer (bench/http_clients.py). The calls
of every job go straight to the session; webhooks and image downloads, rarer, keep httpx's
API. One pool, one cookie policy (none kept: common/http_client.py) for all of them."""

import aiohttp
import httpx
from httpx_aiohttp.transport import AiohttpResponseStream

from common.http_client import CookielessAiohttpTransport, CookielessClient

# httpx-aiohttp hands a body on in 16 KB chunks, each through four async generators: an image
# answer is read whole anyway (worker/upstream/bodies.py caps it), so in pieces of up to a megabyte.
AiohttpResponseStream.CHUNK_SIZE = 1 << 20


class UpstreamClient(CookielessClient):
    """`timeout` bounds each phase as httpx's does: connecting, each read, waiting for a free
    connection. `headers` go with every request, the direct POSTs' included."""

    def __init__(
        self,
        *,
        limits: httpx.Limits = httpx.Limits(),
        timeout: httpx.Timeout = httpx.Timeout(10.0),
        headers: dict[str, str] | None = None,
    ) -> None:
        self._aiohttp = CookielessAiohttpTransport(limits=limits)
        super().__init__(
            timeout=timeout, headers=headers, follow_redirects=False, transport=self._aiohttp
        )
        # What httpx would send with each request (its defaults, then ours), made once.
        self.post_headers = dict(self.headers)
        self.post_timeout = aiohttp.ClientTimeout(
            sock_connect=timeout.connect, sock_read=timeout.read, connect=timeout.pool
        )

    @property
    def session(self) -> aiohttp.ClientSession:
        """The transport's session, made on first use (inside the running loop, as aiohttp
        wants), and shared with httpx's calls."""
        transport = self._aiohttp
        if not isinstance(transport.client, aiohttp.ClientSession):
            transport.client = transport.get_client()
        return transport.client
