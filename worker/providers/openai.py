"""OpenAI Images API and compatible servers: `POST {base}/images/generations`, streamed with
`partial_images` when the client streams and the model shows previews."""

import msgspec

from common.schemas import ImageUsage
from worker.providers.base import Report, Upstream, UpstreamRequest, bearer, image_file
from worker.upstream.download import download
from worker.upstream.events import post_for_events
from worker.upstream.failures import Reason, UpstreamFailure, answer_failure
from worker.upstream.http import JSON_NULL, decode_json_base64, post_form, post_json

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
# Fields that go upstream as the client sent them, for the models whose traits list them.
_HINTS = ("style", "background", "output_format", "output_compression", "moderation", "user")


class _Details(msgspec.Struct, frozen=True):
    text_tokens: int = 0
    image_tokens: int = 0


class _Usage(msgspec.Struct):
    input_tokens: int = 0
    output_tokens: int = 0
    input_tokens_details: _Details = _Details()

    def usage(self) -> ImageUsage:
        details = self.input_tokens_details
        return ImageUsage(
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            text_tokens=details.text_tokens,
            image_tokens=details.image_tokens,
        )


class _Image(msgspec.Struct):
    url: str | None = None
    b64_json: msgspec.Raw = JSON_NULL  # decode_json_base64's


class _Answer(msgspec.Struct):
    data: list[_Image]
    usage: _Usage | None = None
    quality: str | None = None
    background: str | None = None


class _Event(msgspec.Struct):
    """One streamed event: `image_generation.partial_image` or `.completed`, or an error."""

    type: str = ""
    b64_json: bytes = b""
    usage: _Usage | None = None
    quality: str | None = None
    background: str | None = None
    error: dict | None = None


_decode_answer = msgspec.json.Decoder(_Answer).decode
_event = msgspec.json.Decoder(_Event).decode


def _answer(body: bytes) -> _Answer:
    try:
        return _decode_answer(body)
    except msgspec.DecodeError:
        raise answer_failure(200, body) from None


def build_body(request: UpstreamRequest, previews: int = 0) -> dict:
    upstream = request.model.upstream
    body: dict = {"model": upstream, "prompt": request.prompt, "n": request.n}
    if request.width and request.height:
        body["size"] = f"{request.width}x{request.height}"
    family = "gpt-image" if upstream.startswith("gpt-image") else upstream
    body["quality"] = _QUALITY.get(family, {}).get(request.options.quality or "")
    body |= {name: request.taken(name) for name in _HINTS}
    if family != "gpt-image":
        # gpt-image answers base64 always and refuses response_format. For the others base64
        # spares a second round trip and a URL that expires; servers that ignore it send URLs.
        body["response_format"] = "b64_json"
    if previews:
        body["stream"], body["partial_images"] = True, previews
    return {name: value for name, value in body.items() if value is not None}


def edit_form(request: UpstreamRequest, previews: int = 0) -> tuple[dict[str, str], list]:
    """The multipart fields of `/images/edits`: `image` for one file, `image[]` for several
    (a repeated plain `image` is refused there), each with its image content type."""
    body = build_body(request, previews)
    fields = {name: _form_value(value) for name, value in body.items()}
    for name in ("style", "moderation"):  # the edits route has neither
        fields.pop(name, None)
    if request.input_fidelity and request.model.upstream.startswith("gpt-image"):
        fields["input_fidelity"] = request.input_fidelity
    name = "image" if len(request.images) == 1 else "image[]"
    files = [(name, image_file(f"image-{i}", data)) for i, data in enumerate(request.images)]
    if request.mask is not None:
        files.append(("mask", ("mask.png", request.mask, "image/png")))
    return fields, files


def _form_value(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


async def generate(upstream: Upstream, request: UpstreamRequest) -> list[bytes]:
    url = upstream.endpoint()
    auth = bearer(upstream.key)
    report = upstream.report or Report()
    if request.images:
        # The edits route beside the generations one; a URL configured otherwise is used as is.
        url = (
            url.removesuffix("/images/generations") + "/images/edits"
            if url.endswith("/images/generations")
            else url
        )
        previews = report.previews if request.model.previews else 0
        fields, files = edit_form(request, previews)
        if previews:
            return await _streamed(upstream, url, fields, report, files)
        _, body = await post_form(upstream.client, url, fields, files, headers=auth)
        return await _answered(upstream, _answer(body), url, request.n, report)
    previews = report.previews if request.model.previews else 0
    if previews:
        return await _streamed(upstream, url, build_body(request, previews), report)
    _, body = await post_json(upstream.client, url, build_body(request), headers=auth)
    return await _answered(upstream, _answer(body), url, request.n, report)


async def _answered(
    upstream: Upstream, answer: _Answer, url: str, n: int, report: Report
) -> list[bytes]:
    if not answer.data:
        raise UpstreamFailure(Reason.UNUSABLE, "the upstream answered without images")
    usage = answer.usage.usage() if answer.usage else None
    report.made(usage=usage, quality=answer.quality, background=answer.background)
    auth = bearer(upstream.key)
    # A server may list more images than asked for: the extra ones are never downloaded.
    return [await _image_bytes(upstream, image, url, auth) for image in answer.data[:n]]


async def _streamed(
    upstream: Upstream, url: str, body: dict, report: Report, files: list | None = None
) -> list[bytes]:
    """The images of a streamed answer (`files`: an edit's form); each partial image is
    relayed as it comes, for the image the next completed event will finish (events carry no
    image index)."""
    images: list[bytes] = []
    n = int(body["n"])
    auth = bearer(upstream.key)
    async with post_for_events(upstream.client, url, body, headers=auth, files=files) as events:
        async for data in events:
            try:
                event = _event(data)
            except msgspec.DecodeError:
                raise answer_failure(200, data) from None
            if event.error:
                raise answer_failure(200, data)
            if event.type.endswith(".partial_image") and event.b64_json:
                await report.preview(event.b64_json, len(images))
            elif event.type.endswith(".completed") and event.b64_json:
                images.append(event.b64_json)
                usage = event.usage.usage() if event.usage else None
                report.made(usage=usage, quality=event.quality, background=event.background)
            elif not event.type:  # a server that ignored `stream` answered plain JSON
                return await _answered(upstream, _answer(data), url, n, report)
    if not images:
        raise UpstreamFailure(Reason.UNUSABLE, "the upstream's stream ended without an image")
    return images[:n]


async def _image_bytes(
    upstream: Upstream, image: _Image, provider_url: str, auth: dict[str, str]
) -> bytes:
    if (data := decode_json_base64(image.b64_json)) is not None:
        return data
    if image.url:
        return await download(upstream.client, image.url, provider_url, auth)
    raise UpstreamFailure(
        Reason.UNAVAILABLE, "the upstream answered with an image that has neither url nor b64_json"
    )
