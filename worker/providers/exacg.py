"""梦羽 exacg: `POST {base}/api/v1/generate_image`, answering `data.image_url` to fetch at once.

No official document exists; the body is the one its clients agree on. Any answer without
`success: true` and an image URL is a failure, whatever its HTTP status.
"""

import msgspec

from common.config.kinds import KINDS, ZIMAGE_INDEX
from worker.providers.base import Upstream, UpstreamRequest, bearer
from worker.upstream.download import download
from worker.upstream.failures import answer_failure
from worker.upstream.http import post_json


class _Data(msgspec.Struct):
    image_url: str | None = None


class _Answer(msgspec.Struct):
    success: bool = False
    data: _Data | None = None


_answer = msgspec.json.Decoder(_Answer).decode


def model_index(request: UpstreamRequest, options: dict) -> int:
    """A numeric upstream id (`zimage=5`) picks the index; else the provider's `model_index`."""
    upstream = request.model.upstream
    return int(upstream) if upstream.isdigit() else int(options.get("model_index", ZIMAGE_INDEX))


def build_body(request: UpstreamRequest, options: dict) -> dict:
    # Every field always: its clients send them all, and nothing says which may be left out.
    steps, cfg = request.taken("steps"), request.taken("cfg")
    z_image = KINDS["exacg"].traits(request.model.upstream)  # steps and cfg of a bare ModelSpec
    return {
        "prompt": request.prompt,
        "negative_prompt": request.taken("negative_prompt") or "",
        "width": request.width or 1024,
        "height": request.height or 1024,
        "steps": z_image["steps"] if steps is None else steps,
        "cfg": z_image["cfg"] if cfg is None else cfg,
        "model_index": model_index(request, options),
        "seed": -1 if request.seed is None else request.seed,
    }


async def generate(upstream: Upstream, request: UpstreamRequest) -> list[bytes]:
    url = upstream.endpoint()
    auth = bearer(upstream.key)
    body = build_body(request, upstream.provider.options)
    _, answer = await post_json(upstream.client, url, body, headers=auth)
    try:
        decoded = _answer(answer)
    except msgspec.DecodeError:
        decoded = None
    # Failures come with HTTP 200 too: only `success` with an image URL is an image.
    if decoded is None or not decoded.success or decoded.data is None or not decoded.data.image_url:
        raise answer_failure(200, answer)
    # The URL's lifetime is unknown: fetch it now.
    return [await download(upstream.client, decoded.data.image_url, url, auth)]
