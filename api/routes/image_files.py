"""GET /image/{id}: cached image bytes, served only as the types imagegate stored."""

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response.base import ASGIResponse
from litestar.status_codes import HTTP_304_NOT_MODIFIED

from common.errors import NotFound
from common.store.images import ImageStore, is_image_id

GONE = "this image does not exist or has expired; images are kept for IMAGE_EXPIRATION seconds"


@get("/image/{name:str}")
async def serve_image(
    name: FromPath[str], request: Request, images: NamedDependency[ImageStore]
) -> ASGIResponse:
    """Sent as a low-level response: the bytes leave the buffer Redis wrote them into, uncopied."""
    image_id = name.partition(".")[0]
    if not is_image_id(image_id):
        raise NotFound(GONE)
    cached = await images.get(image_id)
    if cached is None:
        raise NotFound(GONE)
    etag = f'"{image_id}"'
    headers = {
        "ETag": etag,
        "Cache-Control": f"public, max-age={cached.ttl_seconds}",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    if request.headers.get("if-none-match") == etag:
        return ASGIResponse(status_code=HTTP_304_NOT_MODIFIED, headers=headers)
    return ASGIResponse(body=cached.data, media_type=cached.meta.content_type, headers=headers)
