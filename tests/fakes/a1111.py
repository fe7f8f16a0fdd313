"""A fake AUTOMATIC1111 / Forge `/sdapi/v1/txt2img`, with optional `--api-auth` (HTTP Basic)."""

import asyncio
import base64
import json
from typing import Any

from aiohttp import web

from tests.fakes.payloads import ImageMaker
from tests.fakes.scenarios import FakeUpstream, json_object
from tests.fakes.server import FakeServer

TXT2IMG = "/sdapi/v1/txt2img"
PROGRESS = "/internal/progress"
# With force_task_id, the fake renders in this many steps, a live preview after each.
PREVIEW_STEPS = 3
STEP_SECONDS = 0.4
IMG2IMG = "/sdapi/v1/img2img"
IMG2IMG_FIELDS = {
    "init_images",
    "mask",
    "denoising_strength",
    "resize_mode",
    "mask_blur",
    "inpainting_fill",
    "inpaint_full_res",
    "inpaint_full_res_padding",
    "inpainting_mask_invert",
    "include_init_images",
}
FIELDS = {
    "prompt",
    "negative_prompt",
    "seed",
    "sampler_name",
    "batch_size",
    "n_iter",
    "steps",
    "cfg_scale",
    "width",
    "height",
    "override_settings",
    "override_settings_restore_afterwards",
    "send_images",
    "save_images",
    "force_task_id",
}
SAMPLERS = ("Euler a", "Euler", "DPM++ 2M Karras")
CHECKPOINTS = ("sd_xl_base_1.0", "dreamshaper_8")
ERRORS = {
    "out_of_memory": (500, "OutOfMemoryError", "CUDA out of memory. Tried to allocate 2.00 GiB")
}


def exception(status: int, error: str, detail: str) -> web.Response:
    return web.json_response(
        {"error": error, "detail": detail, "body": "", "errors": ""}, status=status
    )


class A1111Fake(FakeUpstream):
    """`credentials` ("user:pass") turns on HTTP Basic auth, as `--api-auth` does."""

    scenarios = frozenset(ERRORS)

    def __init__(self, credentials: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.credentials = credentials
        # force_task_id -> (live preview id, its data: URI or None, completed)
        self.tasks: dict[str, tuple[int, str | None, bool]] = {}
        self.preview_images = ImageMaker()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=8 * 1024**2)
        app.router.add_post(TXT2IMG, self.txt2img)
        app.router.add_post(IMG2IMG, self.img2img)
        app.router.add_post(PROGRESS, self.progress)
        return app

    async def progress(self, request: web.Request) -> web.Response:
        """modules/progress.py: the task's state and its newest live preview, unless the
        caller already has it (`id_live_preview`)."""
        if self.credentials and not self._authorised(request.headers.get("Authorization", "")):
            return web.json_response({"detail": "Not authenticated"}, status=401)
        body = await json_object(request) or {}
        task = self.tasks.get(str(body.get("id_task")))
        if task is None:
            return web.json_response(
                {
                    "active": False,
                    "queued": False,
                    "completed": False,
                    "progress": None,
                    "eta": None,
                    "live_preview": None,
                    "id_live_preview": -1,
                    "textinfo": "Waiting...",
                }
            )
        preview_id, preview, completed = task
        fresh = preview if preview_id != body.get("id_live_preview") else None
        return web.json_response(
            {
                "active": not completed,
                "queued": False,
                "completed": completed,
                "progress": 1.0 if completed else 0.5,
                "eta": 1.0,
                "live_preview": fresh,
                "id_live_preview": preview_id,
                "textinfo": None,
            }
        )

    async def _render_steps(self, task_id: str) -> None:
        """Sleep through the steps, a new live preview after each, as the UI's server does."""
        self.tasks[task_id] = (-1, None, False)
        for step in range(PREVIEW_STEPS):
            await asyncio.sleep(STEP_SECONDS)
            preview, _ = self.preview_images.make(64, 64)
            uri = "data:image/png;base64," + base64.b64encode(preview).decode()
            self.tasks[task_id] = (step, uri, False)
        await asyncio.sleep(STEP_SECONDS)

    async def img2img(self, request: web.Request) -> web.Response:
        return await self.txt2img(request, IMG2IMG_FIELDS)

    async def txt2img(
        self, request: web.Request, extra_fields: frozenset | set = frozenset()
    ) -> web.Response:
        if self.credentials and not self._authorised(request.headers.get("Authorization", "")):
            return web.json_response(
                {"detail": "Incorrect username or password"},
                status=401,
                headers={"WWW-Authenticate": "Basic"},
            )
        body = await json_object(request)
        if body is None or (extra := sorted(set(body) - FIELDS - extra_fields)):
            locations = [
                {
                    "loc": ["body", name],
                    "msg": "extra fields not permitted",
                    "type": "value_error.extra",
                }
                for name in extra or ["body"]
            ]
            return web.json_response({"detail": locations}, status=422)
        if extra_fields and (problem := _check_init_images(body)):
            return problem
        if scenario := self.scenario(None, str(body.get("prompt", ""))):
            return exception(*ERRORS[scenario])
        if body.get("sampler_name", "Euler a") not in SAMPLERS:
            return exception(404, "HTTPException", "Sampler not found")
        checkpoint = (body.get("override_settings") or {}).get(
            "sd_model_checkpoint", CHECKPOINTS[0]
        )
        if checkpoint not in CHECKPOINTS:
            return exception(500, "RuntimeError", f"checkpoint {checkpoint} not found")
        await self.maybe_slow(body.get("prompt", ""))
        if task_id := body.get("force_task_id"):
            await self._render_steps(str(task_id))
            preview_id, preview, _ = self.tasks[str(task_id)]
            self.tasks[str(task_id)] = (preview_id, preview, True)
        return self._answer(body)

    def _answer(self, body: dict) -> web.Response:
        width, height, batch = (
            body.get("width", 512),
            body.get("height", 512),
            body.get("batch_size", 1),
        )
        # return_grid is on by default: a batch's grid comes first.
        grid = [self.images.make(width * batch, height)[0]] if batch > 1 else []
        images = grid + [self.images.make(width, height)[0] for _ in range(batch)]
        seed = body.get("seed", -1)
        seed = 1234567 if seed == -1 else seed
        info = {
            "prompt": body.get("prompt", ""),
            "seed": seed,
            "all_seeds": [seed + i for i in range(batch)],
            "width": width,
            "height": height,
        }
        return web.json_response(
            {
                "images": [base64.b64encode(image).decode() for image in images],
                "parameters": body,
                "info": json.dumps(info),
            }
        )

    def _authorised(self, header: str) -> bool:
        scheme, _, encoded = header.partition(" ")
        try:
            return (
                scheme.lower() == "basic" and base64.b64decode(encoded).decode() == self.credentials
            )
        except ValueError:
            return False


def _check_init_images(body: dict) -> web.Response | None:
    """img2img's inputs: `init_images` required; each, and `mask`, base64 (a data: prefix is
    stripped) of an image file."""
    images = body.get("init_images")
    if not images:
        return exception(404, "HTTPException", "Init image not found")
    for encoded in [*images, *([body["mask"]] if body.get("mask") else [])]:
        payload = encoded.split(";")[1].split(",")[1] if encoded.startswith("data:") else encoded
        try:
            data = base64.b64decode(payload, validate=True)
        except ValueError:
            data = b""
        if not data.startswith((b"\x89PNG", b"\xff\xd8", b"RIFF")):
            return exception(500, "HTTPException", "Invalid encoded image")
    return None


def start_a1111(**kwargs: Any) -> tuple[FakeServer, A1111Fake]:
    """Start a fake on a free port; the gateway's base URL is `server.url`."""
    fake = A1111Fake(**kwargs)
    return FakeServer(fake.app()).start(), fake
