"""The one protocol every upstream adapter implements, and what it is given."""

from typing import NamedTuple, Protocol
from urllib.parse import urlsplit

import httpx
import msgspec

from common.config.kinds import KINDS
from common.config.types import ModelSpec, ProviderSpec
from common.schemas import ImageOptions


class UpstreamRequest(msgspec.Struct, frozen=True, kw_only=True):
    """One upstream call's worth of work, already sized and bounded for the model."""

    prompt: str
    model: ModelSpec
    width: int | None  # None: the model decides its size itself
    height: int | None
    n: int = 1  # never more than model.batch
    seed: int | None = None
    negative_prompt: str | None = None
    steps: int | None = None
    cfg: float | None = None
    options: ImageOptions = ImageOptions()  # the client's hints (quality, style, background…)

    def taken(self, name: str):
        """The value of optional field `name` ("negative_prompt", "steps", "cfg") when the
        model's upstream takes it, else None: fields it does not take are never forwarded."""
        return getattr(self, name) if name in self.model.params else None


class Upstream(NamedTuple):
    """Where and how to call: the shared client, the provider, and the key of this attempt."""

    client: httpx.AsyncClient
    provider: ProviderSpec
    key: str | None

    def endpoint(self) -> str:
        """The URL to call: the provider's base URL with its kind's endpoint path, if it needs one."""
        return endpoint_url(self.provider.base_url, KINDS[self.provider.kind].endpoint)


class Adapter(Protocol):
    """Turns one request into one upstream call and returns the image bytes it produced.

    It raises `UpstreamFailure` (worker.upstream.http) for anything but images; it knows nothing
    of key rotation, retries or Redis.
    """

    async def __call__(self, upstream: Upstream, request: UpstreamRequest) -> list[bytes]: ...


def endpoint_url(base_url: str, path: str) -> str:
    """`base_url` as given, unless it stops at an API root (no path, or `/v1`): then the kind's
    endpoint `path` (written from the root, e.g. `/v1/images/generations`) is appended, from
    after its `/v1` when the base already ends there."""
    base = base_url.rstrip("/")
    base_path = urlsplit(base).path
    if not base_path:
        return base + path
    if base_path.endswith("/v1"):
        return base + path.partition("/v1")[2]
    return base_url


def bearer(key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if key else {}
