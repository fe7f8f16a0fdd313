"""A fake SiliconFlow `/v1/images/generations`, with its fields, limits and error bodies."""

import re
import time
from typing import Any

from aiohttp import web

from tests.fakes.scenarios import (
    URL_SCENARIOS,
    FakeUpstream,
    bearer_key,
    challenge_page,
    json_object,
)
from tests.fakes.server import FakeServer

GENERATIONS = "/v1/images/generations"
KOLORS, QWEN, FLUX = "Kwai-Kolors/Kolors", "Qwen/Qwen-Image", "black-forest-labs/FLUX.1-schnell"
# The edit models take their inputs as `image` (and, for 2509, `image2`, `image3`): data URIs
# or URLs; they refuse image_size and size the answer from the first input.
QWEN_EDIT, QWEN_EDIT_2509 = "Qwen/Qwen-Image-Edit", "Qwen/Qwen-Image-Edit-2509"
EDIT_INPUTS = {QWEN_EDIT: ("image",), QWEN_EDIT_2509: ("image", "image2", "image3")}
EDIT_SIZE = (1024, 1024)
FIELDS = {
    "model",
    "prompt",
    "negative_prompt",
    "image_size",
    "batch_size",
    "seed",
    "num_inference_steps",
    "guidance_scale",
    "cfg",
    "image",
    "image2",
    "image3",
}
SIZE = re.compile(r"(\d+)x(\d+)")
RATE_LIMITED = "Request was rejected due to rate limiting. If you want more, please contact contact@siliconflow.cn"

# name -> (status, JSON body or None for an empty body)
ERRORS: dict[str, tuple[int, Any]] = {
    "rate_limited": (429, {"message": RATE_LIMITED, "data": None}),
    "rate_limited_coded": (429, {"code": 50602, "message": RATE_LIMITED, "data": None}),
    "overloaded": (
        503,
        {
            "code": 50505,
            "message": "Model service overloaded. Please try again later.",
            "data": None,
        },
    ),
    "gateway_timeout": (504, None),
    "forbidden": (403, "Forbidden"),
}


class SiliconFlowFake(FakeUpstream):
    scenarios = frozenset(ERRORS) | URL_SCENARIOS | {"challenge"}

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(GENERATIONS, self.generations)
        self.add_file_routes(app)
        app.router.add_route("*", "/{tail:.*}", self.not_found)
        return app

    async def not_found(self, request: web.Request) -> web.Response:
        return web.Response(status=404, text="404 page not found", content_type="text/plain")

    async def generations(self, request: web.Request) -> web.Response:
        key = bearer_key(request)
        if key is None or not self.knows(key):
            return web.json_response("Invalid token", status=401)
        body = await json_object(request)
        if body is None:
            return _invalid("Request body is not valid JSON")
        scenario = self.scenario(key, str(body.get("prompt", "")))
        if scenario == "challenge":
            return challenge_page()
        if scenario in ERRORS:
            status, payload = ERRORS[scenario]
            return (
                web.Response(status=status)
                if payload is None
                else web.json_response(payload, status=status)
            )
        if problem := check(body):
            return problem
        await self.maybe_slow(body["prompt"])
        return self._answer(request, body, scenario)

    def _answer(self, request: web.Request, body: dict, scenario: str | None) -> web.Response:
        if body["model"] in EDIT_INPUTS:
            width, height = EDIT_SIZE
        else:
            width, height = map(int, SIZE.fullmatch(body["image_size"]).groups())
        urls = []
        for _ in range(body.get("batch_size", 1)):
            image, content_type = self.images.make(width, height)
            urls.append({"url": self.image_url(request, image, content_type, scenario)})
        seed = body.get("seed", 42)
        answer = {
            "images": urls,
            "timings": {"inference": 1.25},
            "seed": seed,
            "created": int(time.time()),
            "data": urls,
        }
        return web.json_response(answer, headers={"x-siliconcloud-trace-id": "ti_fake"})


def check(body: dict) -> web.Response | None:
    """The 400 SiliconFlow answers for a body it does not take, or None."""
    model = body.get("model")
    if model not in (KOLORS, QWEN, FLUX, *EDIT_INPUTS):
        return web.json_response(
            {
                "code": 20012,
                "message": "Model does not exist. Please check it carefully.",
                "data": None,
            },
            status=400,
        )
    if unknown := set(body) - FIELDS:
        return _invalid(f"unknown field(s): {', '.join(sorted(unknown))}")
    if not isinstance(body.get("prompt"), str) or not body["prompt"]:
        return _invalid("prompt is required")
    if model in EDIT_INPUTS:
        return _check_edit(body, model)
    if any(name in body for name in ("image", "image2", "image3")):
        return _invalid(f"image is not supported by {model}")
    if not isinstance(body.get("image_size"), str) or not SIZE.fullmatch(body["image_size"]):
        return _invalid("image_size must look like 1024x1024")
    limits = {
        "batch_size": (1, 4),
        "seed": (0, 9999999999),
        "num_inference_steps": (1, 100),
        "guidance_scale": (0, 20),
        "cfg": (0, 20),
    }
    for name, (low, high) in limits.items():
        if name in body and not (
            isinstance(body[name], (int, float)) and low <= body[name] <= high
        ):
            return _invalid(f"{name} must be between {low} and {high}")
    only = {"batch_size": KOLORS, "guidance_scale": KOLORS, "cfg": QWEN}
    if wrong := [name for name, owner in only.items() if name in body and model != owner]:
        return _invalid(f"{', '.join(wrong)} is not supported by {model}")
    return None


def _check_edit(body: dict, model: str) -> web.Response | None:
    if "image_size" in body:
        return _invalid(f"image_size is not supported by {model}")
    if not isinstance(body.get("image"), str):
        return _invalid("image is required")
    for name in ("image", "image2", "image3"):
        if name not in body:
            continue
        if name not in EDIT_INPUTS[model]:
            return _invalid(f"{name} is only applicable to {QWEN_EDIT_2509}")
        if not str(body[name]).startswith(("data:image/", "https://")):
            return _invalid(f"{name} must be a base64 data URI or an https URL")
    return None


def _invalid(message: str) -> web.Response:
    return web.json_response({"code": 20015, "message": message, "data": None}, status=400)


def start_siliconflow(**kwargs: Any) -> tuple[FakeServer, SiliconFlowFake]:
    """Start a fake on a free port; the gateway's base URL is `server.url + "/v1"`."""
    fake = SiliconFlowFake(**kwargs)
    return FakeServer(fake.app()).start(), fake
