"""SiliconFlow: `POST {base}/images/generations` answering temporary `images[].url`s."""

import msgspec

from worker.providers.base import Upstream, UpstreamRequest, bearer, data_uri
from worker.upstream.download import download
from worker.upstream.failures import Reason, UpstreamFailure, answer_failure
from worker.upstream.http import post_json

MAX_GUIDANCE = 20.0  # SiliconFlow refuses a larger guidance_scale or cfg


class _Image(msgspec.Struct):
    url: str


class _Answer(msgspec.Struct):
    images: list[_Image] = []
    data: list[_Image] = []  # newer answers mirror `images` here


_answer = msgspec.json.Decoder(_Answer).decode


def build_body(request: UpstreamRequest) -> dict:
    upstream = request.model.upstream
    body: dict = {"model": upstream, "prompt": request.prompt}
    if request.width and request.height:
        body["image_size"] = f"{request.width}x{request.height}"
    if request.model.batch > 1:
        body["batch_size"] = request.n
    cfg = request.taken("cfg")
    optional = {
        "negative_prompt": request.taken("negative_prompt"),
        "seed": request.seed,
        "num_inference_steps": request.taken("steps"),
        # Kolors calls it guidance_scale, Qwen-Image cfg.
        ("cfg" if upstream.startswith("Qwen/") else "guidance_scale"): None
        if cfg is None
        else min(cfg, MAX_GUIDANCE),
    }
    # The Qwen edit models take their inputs inline: `image`, then `image2`, `image3`.
    for index, image in enumerate(request.images):
        optional["image" if index == 0 else f"image{index + 1}"] = data_uri(image)
    return body | {name: value for name, value in optional.items() if value is not None}


async def generate(upstream: Upstream, request: UpstreamRequest) -> list[bytes]:
    url = upstream.endpoint()
    auth = bearer(upstream.key)
    _, body = await post_json(upstream.client, url, build_body(request), headers=auth)
    try:
        answer = _answer(body)
    except msgspec.DecodeError:
        raise answer_failure(200, body) from None
    images = answer.images or answer.data
    if not images:
        raise UpstreamFailure(Reason.UNUSABLE, "the upstream answered without images")
    # The URLs expire within the hour: fetch them now (no more of them than were asked for).
    return [await download(upstream.client, image.url, url, auth) for image in images[: request.n]]
