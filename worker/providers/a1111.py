"""AUTOMATIC1111 / Forge / SD.Next (self-hosted): `POST {base}/sdapi/v1/txt2img`, base64 PNGs back."""

import asyncio
import base64
import contextlib
import secrets

import aiohttp
import msgspec
from msgspec.structs import replace

from worker.providers.base import Report, Upstream, UpstreamRequest, bearer, edit_size
from worker.render.mask import white_repaint
from worker.upstream.failures import Reason, UpstreamFailure, answer_failure
from worker.upstream.http import CallOptions, decode_base64, post_json

PROGRESS_PATH = "/internal/progress"
POLL_SECONDS = 0.5  # how often a streaming job asks for the task's live preview


class _Answer(msgspec.Struct):
    images: list[str] = []


class _Progress(msgspec.Struct):
    live_preview: str | None = None
    id_live_preview: int = -1


_answer = msgspec.json.Decoder(_Answer).decode
_progress = msgspec.json.Decoder(_Progress).decode


def build_body(request: UpstreamRequest, options: dict) -> dict:
    body: dict = {"prompt": request.prompt, "batch_size": request.n}
    if request.width and request.height:
        body["width"], body["height"] = request.width, request.height
    optional = {
        "negative_prompt": request.taken("negative_prompt"),
        "seed": request.seed,
        "steps": request.taken("steps"),
        "cfg_scale": request.taken("cfg"),
        "sampler_name": options.get("sampler"),
    }
    model = request.model
    if model.upstream != model.name:
        # `public=checkpoint` in the configuration picks the checkpoint; a bare name keeps
        # whatever the server has loaded. Clients never reach override_settings.
        optional["override_settings"] = {"sd_model_checkpoint": model.upstream}
    return body | {name: value for name, value in optional.items() if value is not None}


def credentials(key: str | None) -> CallOptions:
    """`user:pass` is HTTP Basic (the server's --api-auth); any other key goes as a Bearer token."""
    if key and ":" in key:
        user, _, password = key.partition(":")
        return {"headers": {"Authorization": aiohttp.encode_basic_auth(user, password)}}
    return {"headers": bearer(key)}


def img2img_body(request: UpstreamRequest, options: dict) -> dict:
    """txt2img's body plus the first input as `init_images` and the mask in A1111's
    convention (white = repaint); the size asked for, else the input's."""
    width, height = edit_size(request)
    body = build_body(replace(request, width=width, height=height), options)
    body["init_images"] = [base64.b64encode(request.images[0]).decode()]
    if request.mask is not None:
        body["mask"] = base64.b64encode(white_repaint(request.mask)).decode()
    return body


async def generate(upstream: Upstream, request: UpstreamRequest) -> list[bytes]:
    url = upstream.endpoint()
    body = build_body(request, upstream.provider.options)
    if request.images:
        url = url.removesuffix("/txt2img") + "/img2img" if url.endswith("/txt2img") else url
        body = img2img_body(request, upstream.provider.options)
    report = upstream.report
    if report is None or not report.previews or not request.model.previews:
        _, answer = await post_json(upstream.client, url, body, **credentials(upstream.key))
        return _images(answer, request.n)
    # /sdapi/v1/progress is the whole server's: a task id of our own reads this job's alone.
    body["force_task_id"] = f"task(imagegate-{secrets.token_hex(8)})"
    root = url.partition("/sdapi/")[0]
    watch = asyncio.ensure_future(_watch(upstream, root, body["force_task_id"], report))
    try:
        _, answer = await post_json(upstream.client, url, body, **credentials(upstream.key))
    finally:
        watch.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watch
    return _images(answer, request.n)


async def _watch(upstream: Upstream, root: str, task_id: str, report: Report) -> None:
    """Relay the task's live previews as they change, until cancelled. A failed poll is only
    a preview missed (older servers have no per-task progress; the event log may be down):
    the image itself never depends on it."""
    seen = -1
    while True:
        await asyncio.sleep(POLL_SECONDS)
        with contextlib.suppress(Exception):
            _, raw = await post_json(
                upstream.client,
                root + PROGRESS_PATH,
                {"id_task": task_id, "id_live_preview": seen},
                **credentials(upstream.key),
            )
            progress = _progress(raw)
            if progress.live_preview and progress.id_live_preview != seen:
                seen = progress.id_live_preview
                await report.preview(decode_base64(progress.live_preview))


def _images(answer: bytes, n: int) -> list[bytes]:
    try:
        images = _answer(answer).images
    except msgspec.DecodeError:
        raise answer_failure(200, answer) from None
    if not images:
        raise UpstreamFailure(Reason.UNUSABLE, "the upstream answered without images")
    if len(images) == n + 1:
        images = images[1:]  # the batch's grid comes first unless the server's return_grid is off
    return [decode_base64(image) for image in images[:n]]
