"""Cloudflare Workers AI: `POST {base}/accounts/{account}/ai/run/{model}`.

flux-1-schnell answers a JSON envelope holding a base64 JPEG; the SDXL models answer the raw
PNG body. The FLUX.2 models take a multipart form, even for a prompt alone, with up to four
reference images, and answer the envelope too. Errors always come in the envelope, sometimes
with HTTP 200 and `success: false`.
"""

import base64

import msgspec
from msgspec.structs import replace

from common.config.kinds import KINDS
from worker.providers.base import Upstream, UpstreamRequest, bearer, edit_size, image_file
from worker.render.mask import white_repaint
from worker.render.reencode import shrink_below
from worker.upstream.failures import Reason, UpstreamFailure, answer_failure
from worker.upstream.http import decode_base64, post_form, post_json

# Workers AI codes that say more than the HTTP status they come with: 3036 (the account's
# daily allocation is spent) is a quota, 3040 (no data centre has capacity) is not this
# key's rate limit, and codes arriving with HTTP 200 still name the failure.
MEANING = {
    "10000": 401,
    "3036": 402,
    "3040": 503,
    "3023": 403,
    "3041": 403,
    "5016": 403,
    "5018": 403,
    "3003": 400,
    "5004": 400,
    "5006": 400,
    "5007": 400,
    "3042": 404,
    "3006": 413,
    "3007": 504,
    "3008": 504,
}


FLUX2 = "@cf/black-forest-labs/flux-2-"
FLUX2_INPUT_SIDE = 512  # FLUX.2 takes each reference image smaller than 512x512


class _Result(msgspec.Struct):
    image: str | None = None


class _Envelope(msgspec.Struct):
    success: bool = False
    result: _Result | None = None


_envelope = msgspec.json.Decoder(_Envelope).decode


def run_url(upstream: Upstream, model: str) -> tuple[str, str | None]:
    """The run URL of `model` and the API token of this attempt.

    A key is `account_id:token`, or a token of the provider's `account_id` option; a base URL
    that already ends in `/ai/run` is used as given, with the model appended."""
    account, separator, token = (upstream.key or "").partition(":")
    if not separator:
        account, token = str(upstream.provider.options.get("account_id", "")), upstream.key or ""
    base = upstream.provider.base_url.rstrip("/")
    if not base.endswith("/ai/run"):
        base += KINDS["cloudflare"].endpoint.format(account=account)
    return f"{base}/{model}", token or None


def build_body(request: UpstreamRequest) -> dict:
    body: dict = {"prompt": request.prompt}
    if request.width and request.height:
        body["width"], body["height"] = request.width, request.height
    flux = request.model.upstream.startswith("@cf/black-forest-labs/")
    optional = {
        "negative_prompt": request.taken("negative_prompt"),
        ("steps" if flux else "num_steps"): request.taken("steps"),
        "guidance": request.taken("cfg"),
        "seed": request.seed,
    }
    return body | {name: value for name, value in optional.items() if value is not None}


def edit_body(request: UpstreamRequest) -> dict:
    """Stable Diffusion 1.5 img2img and inpainting: the input as `image_b64`, the mask as the
    bytes of a PNG file in a JSON int array (it has no base64 form), white = repaint."""
    width, height = edit_size(request)
    body = build_body(replace(request, width=width, height=height))
    body["image_b64"] = base64.b64encode(request.images[0]).decode()
    if request.mask is not None:
        body["mask"] = list(white_repaint(request.mask))
    return body


def flux2_form(request: UpstreamRequest) -> tuple[dict[str, str], list]:
    """FLUX.2: the fields as text parts, the references as files `input_image_0`…, each shrunk
    below 512 px a side; an edit without a size asked gets the first input's."""
    if request.images:
        width, height = edit_size(request)
        request = replace(request, width=width, height=height)
    fields = {name: str(value) for name, value in build_body(request).items()}
    files = [
        (f"input_image_{i}", image_file(f"input-{i}", shrink_below(data, FLUX2_INPUT_SIDE)))
        for i, data in enumerate(request.images)
    ]
    return fields, files


async def generate(upstream: Upstream, request: UpstreamRequest) -> list[bytes]:
    url, token = run_url(upstream, request.model.upstream)
    auth = bearer(token)
    if request.model.upstream.startswith(FLUX2):
        fields, files = flux2_form(request)
        _, body = await post_form(
            upstream.client, url, fields, files, headers=auth, meaning=MEANING
        )
    else:
        payload = edit_body(request) if request.images else build_body(request)
        _, body = await post_json(upstream.client, url, payload, headers=auth, meaning=MEANING)
    if not body.lstrip().startswith(b"{"):
        return [body]  # SDXL: the image itself, recognised by its magic bytes
    return [_enveloped_image(body)]


def _enveloped_image(body: bytes) -> bytes:
    """The base64 image of a JSON envelope (flux), or the failure the envelope says."""
    try:
        envelope = _envelope(body)
    except msgspec.DecodeError:
        raise answer_failure(200, body, meaning=MEANING) from None
    if not envelope.success:
        raise answer_failure(200, body, meaning=MEANING)
    if envelope.result is None or not envelope.result.image:
        raise UpstreamFailure(Reason.UNUSABLE, "the upstream answered without an image")
    return decode_base64(envelope.result.image)
