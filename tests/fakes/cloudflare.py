"""A fake Cloudflare Workers AI `/client/v4/accounts/{id}/ai/run/{model}` for its image models.

flux-1-schnell takes a prompt and steps only and answers a JSON envelope with a base64 JPEG
of a size it picks; the SDXL models answer the raw PNG. The FLUX.2 models take a multipart
form only (up to four reference images, each smaller than 512x512; klein takes no `steps`)
and answer the envelope. Errors come in the envelope.
"""

import base64
import io
from typing import Any

from aiohttp import web
from PIL import Image, UnidentifiedImageError

from tests.fakes.jpeg import solid_jpeg
from tests.fakes.scenarios import (
    FakeUpstream,
    FileParts,
    bearer_key,
    challenge_page,
    form_parts,
    json_object,
)
from tests.fakes.server import FakeServer

FLUX = "@cf/black-forest-labs/flux-1-schnell"
SDXL = (
    "@cf/stabilityai/stable-diffusion-xl-base-1.0",
    "@cf/bytedance/stable-diffusion-xl-lightning",
)
FLUX_SIZE = (1024, 768)  # flux-1-schnell decides its size; the gateway must read it from the bytes
IMG2IMG = "@cf/runwayml/stable-diffusion-v1-5-img2img"
INPAINTING = "@cf/runwayml/stable-diffusion-v1-5-inpainting"
SD15_FIELDS = {
    "prompt",
    "negative_prompt",
    "width",
    "height",
    "image",
    "image_b64",
    "mask",
    "num_steps",
    "strength",
    "guidance",
    "seed",
}
FLUX2_DEV = "@cf/black-forest-labs/flux-2-dev"
FLUX2_KLEIN = ("@cf/black-forest-labs/flux-2-klein-4b", "@cf/black-forest-labs/flux-2-klein-9b")
FLUX2 = (FLUX2_DEV, *FLUX2_KLEIN)
FLUX2_SIZE = (1024, 768)  # without width and height
FLUX2_FIELDS = {"prompt", "steps", "guidance", "width", "height", "seed"}
FLUX2_IMAGES = tuple(f"input_image_{i}" for i in range(4))
SDXL_FIELDS = {"prompt", "negative_prompt", "width", "height", "num_steps", "guidance", "seed"}
QUOTA = (
    "You have used up your daily free allocation of 10,000 neurons. Please upgrade to Cloudflare's"
    " Workers Paid plan if you would like to continue usage."
)

# name -> (HTTP status, Workers AI code, message)
ERRORS: dict[str, tuple[int, int, str]] = {
    "daily_quota": (429, 3036, QUOTA),
    "out_of_capacity": (429, 3040, "No more data centers to forward the request to"),
    "account_blocked": (403, 3023, "Service unavailable for account"),
    "upstream_timeout": (408, 3007, "Request timeout"),
    "success_false": (200, 3040, "Capacity temporarily exceeded, please try again."),
    "quota_in_200": (200, 3036, QUOTA),
}


def envelope_error(status: int, code: int, message: str) -> web.Response:
    body = {
        "result": None,
        "success": False,
        "errors": [{"code": code, "message": message}],
        "messages": [],
    }
    return web.json_response(body, status=status)


def image_envelope(image: bytes) -> web.Response:
    body = {
        "result": {"image": base64.b64encode(image).decode()},
        "success": True,
        "errors": [],
        "messages": [],
    }
    return web.json_response(body)


def bad_input(detail: str) -> web.Response:
    return envelope_error(400, 5006, f"AiError: Bad input: {detail}")


def unexpected(extra: list[str]) -> web.Response:
    return bad_input(
        f"Additional or unevaluated properties are not allowed ({', '.join(map(repr, extra))} were unexpected)"
    )


class CloudflareFake(FakeUpstream):
    """`valid_keys` are `account_id:token` pairs: a token works for its own account only."""

    scenarios = frozenset(ERRORS) | {"challenge"}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.forms: list[tuple[dict, FileParts]] = []  # each FLUX.2 call's fields and images

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/client/v4/accounts/{account}/ai/run/{model:.+}", self.run)
        return app

    async def run(self, request: web.Request) -> web.Response:
        token, account = bearer_key(request), request.match_info["account"]
        pair = f"{account}:{token}"
        if token is None or not self.knows(pair):
            return envelope_error(401, 10000, "Authentication error")
        model = request.match_info["model"]
        read = await self._read(request, multipart=model in FLUX2)
        if isinstance(read, web.Response):
            return read
        body, files = read
        scenario = self.scenario(pair, str(body.get("prompt", "")))
        if scenario == "challenge":
            return challenge_page()
        if scenario in ERRORS:
            return envelope_error(*ERRORS[scenario])
        if model in FLUX2:
            return self._flux2(body, files, steps=model == FLUX2_DEV)
        if model == FLUX:
            return self._flux(body)
        if model in SDXL:
            return self._sdxl(body)
        if model in (IMG2IMG, INPAINTING):
            return self._sd15(body, inpainting=model == INPAINTING)
        return envelope_error(400, 5007, f"No such model {model} or task")

    async def _read(
        self, request: web.Request, *, multipart: bool
    ) -> tuple[dict, FileParts] | web.Response:
        """The body's fields and files: a multipart form for FLUX.2, JSON for the others."""
        if multipart:
            form = await form_parts(request)
            if form is None:
                return envelope_error(
                    400, 5004, "Invalid data type for input: expected multipart/form-data"
                )
            return form
        body = await json_object(request)
        if body is None:
            return envelope_error(400, 5004, "Invalid data type for input: expected a JSON object")
        return body, []

    def _flux(self, body: dict) -> web.Response:
        if extra := sorted(set(body) - {"prompt", "steps"}):
            return unexpected(extra)
        if problem := _check_prompt(body) or _check_int(body, "steps", 1, 8):
            return problem
        image = solid_jpeg(*FLUX_SIZE, grey=len(self.produced) % 256)
        self.images.produced.append(image)
        return image_envelope(image)

    def _flux2(self, fields: dict, files: FileParts, *, steps: bool) -> web.Response:
        """`steps` is dev's only (klein runs a fixed 4); images are files, never text parts."""
        allowed = FLUX2_FIELDS - (set() if steps else {"steps"})
        images = [part for part in files if part[0].startswith("input_image_")]
        if extra := sorted(
            (set(fields) - allowed) | {part[0] for part in files} - set(FLUX2_IMAGES)
        ):
            return unexpected(extra)
        if len(images) > len(FLUX2_IMAGES):
            return bad_input(f"at most {len(FLUX2_IMAGES)} input images")
        if not fields.get("prompt"):
            return bad_input("'prompt' is required")
        if problem := _check_images(images):
            return problem
        try:
            numbers = {
                name: int(fields[name])
                for name in ("width", "height", "steps", "seed")
                if name in fields
            }
            float(fields.get("guidance", 0))
        except ValueError:
            return bad_input("steps, width, height and seed must be integers, guidance a number")
        checks = (_check_int(numbers, side, 256, 1920) for side in ("width", "height"))
        if problem := next((c for c in checks if c), None):
            return problem
        self.forms.append((fields, images))
        width, height = numbers.get("width", FLUX2_SIZE[0]), numbers.get("height", FLUX2_SIZE[1])
        image, _ = self.images.make(width, height)
        return image_envelope(image)

    def _sdxl(self, body: dict) -> web.Response:
        if extra := sorted(set(body) - SDXL_FIELDS):
            return unexpected(extra)
        checks = (_check_int(body, side, 256, 2048) for side in ("width", "height"))
        if (
            problem := _check_prompt(body)
            or next((c for c in checks if c), None)
            or _check_int(body, "num_steps", 1, 20)
        ):
            return problem
        image, _ = self.images.make(body.get("width", 1024), body.get("height", 1024))
        return web.Response(body=image, content_type="image/png")

    def _sd15(self, body: dict, *, inpainting: bool) -> web.Response:
        if extra := sorted(set(body) - SD15_FIELDS):
            return unexpected(extra)
        has_image = "image" in body or "image_b64" in body
        if inpainting and not (has_image and "mask" in body):
            # Cloudflare answers this one with `result: {}`, not null.
            return web.json_response(
                {
                    "errors": [
                        {
                            "message": "AiError: AiError: Model input is not valid: missing "
                            "required input mask_image (2c0ff1b8)",
                            "code": 3030,
                        }
                    ],
                    "success": False,
                    "result": {},
                    "messages": [],
                },
                status=400,
            )
        for name in ("image", "mask"):
            value = body.get(name, [])
            if not isinstance(value, list) or not all(
                isinstance(v, int) and 0 <= v <= 255 for v in value
            ):
                return bad_input(f"'{name}' must be an array of integers from 0 to 255")
        if "image_b64" in body:
            try:
                base64.b64decode(body["image_b64"], validate=True)
            except ValueError:
                return bad_input("'image_b64' must be a base64-encoded string")
        checks = (_check_int(body, side, 256, 2048) for side in ("width", "height"))
        if problem := _check_prompt(body) or next((c for c in checks if c), None):
            return problem
        image, _ = self.images.make(body.get("width", 512), body.get("height", 512))
        return web.Response(body=image, content_type="image/png")


def _check_prompt(body: dict) -> web.Response | None:
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not 1 <= len(prompt) <= 2048:
        return bad_input("prompt must be a string of 1 to 2048 characters")
    return None


def _check_images(images: FileParts) -> web.Response | None:
    """Each reference must be an image smaller than 512x512."""
    for name, _, _, data in images:
        try:
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
        except (UnidentifiedImageError, OSError):
            return bad_input(f"'{name}' is not an image")
        if max(width, height) >= 512:
            return bad_input(
                f"'{name}' is {width}x{height}: input images must be smaller than 512x512"
            )
    return None


def _check_int(body: dict, name: str, low: int, high: int) -> web.Response | None:
    value = body.get(name, low)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        return bad_input(f"'{name}' must be an integer from {low} to {high}")
    return None


def start_cloudflare(**kwargs: Any) -> tuple[FakeServer, CloudflareFake]:
    """Start a fake on a free port; the gateway's CF_API_BASE is `server.url + "/client/v4"`."""
    fake = CloudflareFake(**kwargs)
    return FakeServer(fake.app()).start(), fake
