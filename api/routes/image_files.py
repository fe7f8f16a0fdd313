"""GET /image/{id}: stored image bytes, served only as the types imagegate stored."""

from typing import cast

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath, SkipValidation
from litestar.response.base import ASGIResponse
from litestar.response.streaming import ASGIStreamingResponse
from litestar.status_codes import HTTP_302_FOUND, HTTP_304_NOT_MODIFIED

from common.errors import NotFound
from common.store.images import ImageStore, is_image_id

GONE = "this image does not exist or has expired; images are kept for IMAGE_EXPIRATION seconds"


@get("/image/{name:str}")
async def serve_image(
    name: FromPath[str],
    request: Request,
    # Not checked against ImageStore: isinstance on a Protocol walks its members every time.
    images: NamedDependency[SkipValidation[ImageStore]],
) -> ASGIResponse:
    """Bytes at hand are sent as a low-level response (they leave the buffer Redis wrote them
    into, uncopied); a bucket's object is streamed through, or redirected to."""
    image_id = name.partition(".")[0]
    if not is_image_id(image_id):
        raise NotFound(GONE)
    opened = await images.open(image_id)
    if opened is None:
        raise NotFound(GONE)
    etag = f'"{image_id}"'
    headers = {
        "ETag": etag,
        "Cache-Control": f"public, max-age={opened.ttl_seconds}",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    if request.headers.get("if-none-match") == etag:
        if opened.chunks is not None:
            await opened.chunks.aclose()
        return ASGIResponse(status_code=HTTP_304_NOT_MODIFIED, headers=headers)
    if opened.redirect is not None:
        # The presigned URL expires sooner than the image: caches keep the redirect no longer.
        headers["Cache-Control"] = "private, no-cache"
        headers["Location"] = opened.redirect
        return ASGIResponse(status_code=HTTP_302_FOUND, headers=headers)
    if opened.chunks is not None:
        return ASGIStreamingResponse(
            iterator=opened.chunks,
            content_length=opened.meta.size or None,
            media_type=opened.meta.content_type,
            headers=headers,
        )
    # The bulk reader's memoryview goes out as it is: ASGI servers send any buffer.
    body = cast(bytes, opened.data)
    return ASGIResponse(body=body, media_type=opened.meta.content_type, headers=headers)
