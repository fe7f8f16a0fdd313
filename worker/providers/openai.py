"""OpenAI Images API and compatible servers: `POST {base}/images/generations`."""

import msgspec

from worker.download import download
from worker.providers.base import ImageRequest, Upstream, endpoint_url
from worker.upstream import Reason, UpstreamFailure, classify, decode_base64, send


class _Image(msgspec.Struct):
    url: str | None = None
    b64_json: str | None = None


class _Answer(msgspec.Struct):
    data: list[_Image]


class _Error(msgspec.Struct):
    message: str = ""
    type: str | None = None
    code: str | None = None


class _ErrorBody(msgspec.Struct):
    error: _Error


_answer = msgspec.json.Decoder(_Answer).decode
_error = msgspec.json.Decoder(_ErrorBody).decode


def build_body(request: ImageRequest) -> dict:
    upstream = request.model.upstream
    body: dict = {"model": upstream, "prompt": request.prompt, "n": request.n}
    if request.width and request.height:
        body["size"] = f"{request.width}x{request.height}"
    if upstream.startswith("gpt-image"):
        body["quality"] = request.quality  # gpt-image answers base64 always and refuses response_format
    else:
        # Base64 spares a second round trip and a URL that expires; servers that ignore it send URLs.
        body["response_format"] = "b64_json"
        if upstream == "dall-e-3":
            body["quality"], body["style"] = request.quality, request.style
    return {name: value for name, value in body.items() if value is not None}


def failure(status: int, body: bytes, headers) -> UpstreamFailure:
    try:
        error = _error(body).error
    except msgspec.DecodeError:
        return classify(status, f"HTTP {status} from the upstream", headers=headers)
    return classify(status, error.message or f"HTTP {status}", code=error.code or error.type, headers=headers)


async def generate(upstream: Upstream, request: ImageRequest) -> list[bytes]:
    url = endpoint_url(upstream.provider.base_url, "/v1/images/generations")
    auth = {"Authorization": f"Bearer {upstream.key}"} if upstream.key else {}
    response, body = await send(upstream.client, "POST", url, json=build_body(request), headers=auth)
    if response.status_code != 200:
        raise failure(response.status_code, body, response.headers)
    try:
        images = _answer(body).data
    except msgspec.DecodeError as exc:
        raise UpstreamFailure(Reason.UNAVAILABLE, "the upstream answered without images") from exc
    if not images:
        raise UpstreamFailure(Reason.UNAVAILABLE, "the upstream answered without images")
    return [await _image_bytes(upstream, image, url, auth) for image in images]


async def _image_bytes(upstream: Upstream, image: _Image, provider_url: str, auth: dict[str, str]) -> bytes:
    if image.b64_json:
        return decode_base64(image.b64_json)
    if image.url:
        return await download(upstream.client, image.url, provider_url, auth)
    raise UpstreamFailure(Reason.UNAVAILABLE, "the upstream answered with an image that has neither url nor b64_json")
