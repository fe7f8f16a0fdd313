"""OpenAI Images API and compatible servers: `POST {base}/images/generations`."""

import msgspec

from worker.providers.base import Upstream, UpstreamRequest, bearer, content_type
from worker.upstream.download import download
from worker.upstream.http import (
    Reason,
    UpstreamFailure,
    answer_failure,
    decode_base64,
    post_form,
    post_json,
)

# A client's `quality` in either family's words, as the model's family spells it.
_QUALITY = {
    "dall-e-3": {
        "standard": "standard",
        "hd": "hd",
        "low": "standard",
        "medium": "standard",
        "high": "hd",
    },
    "gpt-image": {
        "low": "low",
        "medium": "medium",
        "high": "high",
        "auto": "auto",
        "standard": "medium",
        "hd": "high",
    },
}
_STYLES = ("vivid", "natural")


class _Image(msgspec.Struct):
    url: str | None = None
    b64_json: bytes | None = None  # msgspec decodes base64 in C while it parses


class _Answer(msgspec.Struct):
    data: list[_Image]


class _TextImage(msgspec.Struct):
    url: str | None = None
    b64_json: str | None = None  # for servers that send `data:image/...;base64,` prefixes


class _TextAnswer(msgspec.Struct):
    data: list[_TextImage]


_decoders = (msgspec.json.Decoder(_Answer).decode, msgspec.json.Decoder(_TextAnswer).decode)


def _images(body: bytes) -> list[_Image | _TextImage]:
    for decode in _decoders:
        try:
            return decode(body).data
        except msgspec.DecodeError:
            continue
    raise answer_failure(200, body)


def build_body(request: UpstreamRequest) -> dict:
    upstream = request.model.upstream
    body: dict = {"model": upstream, "prompt": request.prompt, "n": request.n}
    if request.width and request.height:
        body["size"] = f"{request.width}x{request.height}"
    family = "gpt-image" if upstream.startswith("gpt-image") else upstream
    options = request.options
    body["quality"] = _QUALITY.get(family, {}).get(options.quality or "")
    if family == "dall-e-3" and options.style in _STYLES:
        body["style"] = options.style
    if family != "gpt-image":
        # gpt-image answers base64 always and refuses response_format. For the others base64
        # spares a second round trip and a URL that expires; servers that ignore it send URLs.
        body["response_format"] = "b64_json"
    return {name: value for name, value in body.items() if value is not None}


def edit_form(request: UpstreamRequest) -> tuple[dict[str, str], list]:
    """The multipart fields of `/images/edits`: `image` for one file, `image[]` for several
    (a repeated plain `image` is refused there), each with its image content type."""
    fields = {name: _form_value(value) for name, value in build_body(request).items()}
    fields.pop("style", None)  # the edits route has no style
    if request.input_fidelity and request.model.upstream.startswith("gpt-image"):
        fields["input_fidelity"] = request.input_fidelity
    name = "image" if len(request.images) == 1 else "image[]"
    files = [
        (name, (f"image-{i}.{content_type(data).partition('/')[2]}", data, content_type(data)))
        for i, data in enumerate(request.images)
    ]
    if request.mask is not None:
        files.append(("mask", ("mask.png", request.mask, "image/png")))
    return fields, files


def _form_value(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


async def generate(upstream: Upstream, request: UpstreamRequest) -> list[bytes]:
    url = upstream.endpoint()
    auth = bearer(upstream.key)
    if request.images:
        # The edits route beside the generations one; a URL configured otherwise is used as is.
        url = (
            url.removesuffix("/images/generations") + "/images/edits"
            if url.endswith("/images/generations")
            else url
        )
        _, body = await post_form(upstream.client, url, *edit_form(request), headers=auth)
    else:
        _, body = await post_json(upstream.client, url, build_body(request), headers=auth)
    images = _images(body)
    if not images:
        raise UpstreamFailure(Reason.UNUSABLE, "the upstream answered without images")
    # A server may list more images than asked for: the extra ones are never downloaded.
    return [await _image_bytes(upstream, image, url, auth) for image in images[: request.n]]


async def _image_bytes(
    upstream: Upstream, image: _Image | _TextImage, provider_url: str, auth: dict[str, str]
) -> bytes:
    if isinstance(image.b64_json, bytes):
        return image.b64_json
    if image.b64_json:
        return decode_base64(image.b64_json)
    if image.url:
        return await download(upstream.client, image.url, provider_url, auth)
    raise UpstreamFailure(
        Reason.UNAVAILABLE, "the upstream answered with an image that has neither url nor b64_json"
    )
