"""The one protocol every upstream adapter implements, and what it is given."""

import base64
from collections.abc import Awaitable, Callable
from typing import NamedTuple, Protocol
from urllib.parse import urlsplit

import msgspec

from common.config.kinds import KINDS
from common.config.types import ModelSpec, ProviderSpec
from common.schemas import ImageOptions, ImageUsage
from worker.upstream.client import UpstreamClient
from worker.upstream.sniff import sniff


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
    # An edit: the input images (PNG, JPEG or WebP) and the OpenAI-style mask of the first
    # (alpha 0 = repaint). With no size asked, width and height are None: sized from the input.
    images: tuple[bytes, ...] = ()
    mask: bytes | None = None
    input_fidelity: str | None = None

    def taken(self, name: str):
        """The value of optional field `name` ("negative_prompt", "steps", "cfg", or a hint of
        `options` such as "background") when the model's upstream takes it, else None: fields
        it does not take are never forwarded."""
        if name not in self.model.params:
            return None
        return (
            getattr(self, name) if name in self.__struct_fields__ else getattr(self.options, name)
        )


# Takes a partial image's bytes and the index, within the call, of the image it previews.
PublishPreview = Callable[[bytes, int], Awaitable[None]]


class Report:
    """What an adapter tells its job besides the images: partial images while the upstream
    renders (when the client streams and asked for `previews` of each), and what the upstream
    says it made. One per upstream call; the job reads it once the call has returned."""

    def __init__(self, previews: int = 0, publish: PublishPreview | None = None) -> None:
        self.previews = previews if publish is not None else 0
        self._publish = publish
        self.usage: ImageUsage | None = None
        self.quality: str | None = None
        self.background: str | None = None

    async def preview(self, data: bytes, image: int = 0) -> None:
        if self._publish is not None and self.previews:
            await self._publish(data, image)

    def made(
        self,
        *,
        usage: ImageUsage | None = None,
        quality: str | None = None,
        background: str | None = None,
    ) -> None:
        if usage is not None:
            self.usage = usage if self.usage is None else self.usage + usage
        self.quality = quality or self.quality
        self.background = background or self.background


class Upstream(NamedTuple):
    """Where and how to call: the shared client, the provider, the key of this attempt, and
    where to report previews and what was made (None: nobody listens)."""

    client: UpstreamClient
    provider: ProviderSpec
    key: str | None
    report: Report | None = None

    def endpoint(self) -> str:
        """The URL to call: the provider's base URL with its kind's endpoint path, if it needs one."""
        kind = KINDS[self.provider.kind]
        return endpoint_url(self.provider.base_url, kind.endpoint, server_root=kind.server_root)


class Adapter(Protocol):
    """Turns one request into one upstream call and returns the image bytes it produced.

    It raises `UpstreamFailure` (worker.upstream.http) for anything but images; it knows nothing
    of key rotation, retries or Redis.
    """

    async def __call__(self, upstream: Upstream, request: UpstreamRequest) -> list[bytes]: ...


def endpoint_url(base_url: str, path: str, *, server_root: bool = False) -> str:
    """`base_url` as given, unless it stops at an API root (no path, or `/v1`): then the kind's
    endpoint `path` (written from the root, e.g. `/v1/images/generations`) is appended, from
    after its `/v1` when the base already ends there. For a kind whose base is a server root,
    `path` is appended unless the base already ends with it, or with its first segments
    (`https://host/sd` → `https://host/sd/sdapi/v1/txt2img`)."""
    base = base_url.rstrip("/")
    base_path = urlsplit(base).path
    if server_root:
        segments = path.split("/")
        for cut in range(len(segments), 1, -1):
            if base_path.endswith(head := "/".join(segments[:cut])):
                return base + path[len(head) :]
        return base + path
    if not base_path:
        return base + path
    if base_path.endswith("/v1"):
        return base + path.partition("/v1")[2]
    return base_url


def content_type(image: bytes) -> str:
    """The content type of an input image (checked by the api: PNG, JPEG or WebP)."""
    info = sniff(image)
    return info.content_type if info else "image/png"


def image_file(stem: str, image: bytes) -> tuple[str, bytes, str]:
    """An input image as a multipart file part: named `stem` with its extension, and typed."""
    kind = content_type(image)
    return f"{stem}.{kind.partition('/')[2]}", image, kind


def data_uri(image: bytes) -> str:
    return f"data:{content_type(image)};base64,{base64.b64encode(image).decode()}"


def edit_size(request: UpstreamRequest, step: int = 8) -> tuple[int, int]:
    """The size asked for, else the first input's, within the model's bounds and a multiple of
    `step`: for upstreams that need a size for an edit (img2img)."""
    if request.width and request.height:
        return request.width, request.height
    info = sniff(request.images[0])
    width, height = (info.width, info.height) if info else (512, 512)
    model = request.model
    scale = min(1.0, model.max_side / max(width, height))
    scale = max(scale, model.min_side / min(width, height))
    return tuple(  # type: ignore[return-value]
        max(model.min_side, min(model.max_side, round(side * scale / step) * step))
        for side in (width, height)
    )


def bearer(key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if key else {}
