"""The input images of an edit: loaded (uploads, `data:` URIs, http(s) URLs, this gateway's
own /image URLs) and checked before anything is enqueued, each failure a 400 naming its param.

URLs are fetched here, not in the worker, so a bad link is the client's 400 at once rather
than a failed job, under the worker's download rules (worker/upstream/download.py): http(s)
only, public addresses only, at most 3 redirects each checked again, a deadline, 20 MB.
"""

import asyncio
import base64
import binascii
import io
import re
from collections.abc import Awaitable, Callable
from urllib.parse import urljoin, urlsplit

import httpx
from PIL import Image, UnidentifiedImageError

from api.jobs.uploads import Upload
from common.config.types import ModelSpec
from common.errors import InvalidRequest
from common.net import resolves_public
from common.store.images import ImageStore

MAX_IMAGES = 16
MAX_IMAGE_BYTES = 20 * 2**20
MAX_SIDE = 4096
MAX_REDIRECTS = 3
FETCH_TIMEOUT = 30.0
_FORMATS = ("PNG", "JPEG", "WEBP")
_OWN_IMAGE = re.compile(r"^/image/([0-9a-f]{32})(\.[a-z]{3,4})?$")


# Whether a URL's host and port may be fetched (the seam tests use to allow their local fake).
HostCheck = Callable[[str, int], Awaitable[bool]]


class Inputs:
    """Loads the images of one request: `base_url` is this gateway's own, as the client sees it."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        images: ImageStore,
        base_url: str,
        allowed: HostCheck = resolves_public,
    ) -> None:
        self._client = client
        self._images = images
        self._base_url = base_url
        self._allowed = allowed

    async def load_edit(
        self, model: ModelSpec, images: list[Upload], mask: Upload | None
    ) -> tuple[tuple[bytes, ...], bytes | None]:
        """The checked bytes of `images` and `mask` for an edit with `model`."""
        check_counts(model, images, mask)
        loaded = await asyncio.gather(*(self.load(upload) for upload in images))
        sizes = [
            image_size(upload.param, data) for upload, data in zip(images, loaded, strict=True)
        ]
        if mask is None:
            return tuple(loaded), None
        mask_data = await self.load(mask)
        if image_size(mask.param, mask_data, formats=("PNG",)) != sizes[0]:
            width, height = sizes[0]
            raise InvalidRequest(
                f"the mask must be the size of the first image ({width}x{height})",
                param=mask.param,
            )
        return tuple(loaded), mask_data

    async def load(self, upload: Upload) -> bytes:
        if upload.data is not None:
            return upload.data
        url = upload.url or ""
        if url.startswith("data:"):
            return _data_uri(url, upload.param)
        own = self._own_image_id(url)
        if own is not None:
            cached = await self._images.get(own)
            if cached is None:
                raise InvalidRequest(
                    f"{upload.param}: that image expired from this gateway's cache",
                    param=upload.param,
                )
            return bytes(cached.data)
        return await self._fetch(url, upload.param)

    def _own_image_id(self, url: str) -> str | None:
        """The image id of a link to this gateway's /image route (absolute or relative)."""
        parts = urlsplit(url)
        if parts.scheme and f"{parts.scheme}://{parts.netloc}" != self._base_url:
            return None
        found = _OWN_IMAGE.match(parts.path)
        return found.group(1) if found else None

    async def _fetch(self, url: str, param: str) -> bytes:
        try:
            async with asyncio.timeout(FETCH_TIMEOUT):
                return await self._follow(url, param)
        except TimeoutError:
            raise InvalidRequest(
                f"{param}: the image URL did not answer in time", param=param
            ) from None
        except httpx.HTTPError:
            raise InvalidRequest(
                f"{param}: the image URL could not be fetched", param=param
            ) from None

    async def _follow(self, url: str, param: str) -> bytes:
        for _ in range(MAX_REDIRECTS + 1):
            await _check_target(url, param, self._allowed)
            async with self._client.stream("GET", url, follow_redirects=False) as response:
                if response.is_redirect and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                if response.status_code != 200:
                    raise InvalidRequest(
                        f"{param}: the image URL answered HTTP {response.status_code}",
                        param=param,
                    )
                return await _read_capped(response, param)
        raise InvalidRequest(
            f"{param}: the image URL redirected more than {MAX_REDIRECTS} times", param=param
        )


def check_counts(model: ModelSpec, images: list[Upload], mask: Upload | None) -> None:
    if not model.edits:
        raise InvalidRequest(
            f"the model {model.name!r} cannot edit images; GET /v1/models marks those that do "
            "with image-edit",
            param="model",
            code="edits_not_supported",
        )
    if not images:
        raise InvalidRequest("send the image to edit", param="image", code="missing_field")
    param = images[0].param.partition("[")[0]  # image, images or messages
    if len(images) > MAX_IMAGES:
        raise InvalidRequest(f"at most {MAX_IMAGES} images can be edited at once", param=param)
    if len(images) > model.edit_images:
        raise InvalidRequest(
            f"{model.name} edits at most {model.edit_images} image(s) at once", param=param
        )
    if mask is not None and not model.masks:
        raise InvalidRequest(
            f"{model.name} takes no mask", param=mask.param, code="unsupported_value"
        )
    if mask is None and model.masks == "required":
        raise InvalidRequest(
            f"{model.name} needs a mask marking what to repaint", param="mask", code="missing_field"
        )


def image_size(param: str, data: bytes, formats: tuple[str, ...] = _FORMATS) -> tuple[int, int]:
    """The pixel size of `data`, an image of one of `formats` by its magic bytes, within limits."""
    if len(data) > MAX_IMAGE_BYTES:
        raise InvalidRequest(f"{param} is larger than 20 MB", param=param)
    labels = [{"WEBP": "WebP"}.get(name, name) for name in formats]
    names = f"{', '.join(labels[:-1])} or {labels[-1]}" if len(labels) > 1 else labels[0]
    try:
        with Image.open(io.BytesIO(data), formats=formats) as image:
            width, height = image.size
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError):
        raise InvalidRequest(f"{param} is not a {names} image", param=param) from None
    if max(width, height) > MAX_SIDE:
        raise InvalidRequest(
            f"{param} is {width}x{height}: at most {MAX_SIDE} px a side", param=param
        )
    return width, height


def _data_uri(url: str, param: str) -> bytes:
    header, comma, payload = url.partition(",")
    if not comma or not header.endswith(";base64"):
        raise InvalidRequest(
            f"{param}: a data: URI must be base64 (data:image/png;base64,…)", param=param
        )
    try:
        return base64.b64decode("".join(payload.split()), validate=True)
    except (ValueError, binascii.Error):
        raise InvalidRequest(f"{param}: the data: URI is not valid base64", param=param) from None


async def _check_target(url: str, param: str, allowed: HostCheck) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidRequest(
            f"{param} must be an http(s) URL, a data: URI or an image of this gateway",
            param=param,
        )
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if not await allowed(parts.hostname, port):
        raise InvalidRequest(
            f"{param}: the image URL does not resolve to a public address; refused", param=param
        )


async def _read_capped(response: httpx.Response, param: str) -> bytes:
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > MAX_IMAGE_BYTES:
            raise InvalidRequest(f"{param} is larger than 20 MB", param=param)
    return bytes(body)
