"""A fake 梦羽 exacg `/api/v1/generate_image`: the body its clients send, `success: false` failures
(some with HTTP 200), and the Cloudflare challenge page its host sometimes answers with."""

import secrets
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

GENERATE = "/api/v1/generate_image"
FIELDS = ("prompt", "negative_prompt", "width", "height", "steps", "cfg", "model_index", "seed")
MODELS = {5: "Z-Image", 0: "Anything-v5"}

# name -> (HTTP status, error text)
ERRORS: dict[str, tuple[int, str]] = {
    "no_points": (200, "Insufficient points: 0 remaining, please recharge"),
    "prompt_flagged": (200, "Prompt contains prohibited content"),
    "generation_failed": (500, "Generation failed, please try again later"),
    "busy": (200, "Server busy, please try again later"),
}


def failure(status: int, error: str) -> web.Response:
    return web.json_response({"success": False, "error": error}, status=status)


class ExacgFake(FakeUpstream):
    scenarios = frozenset(ERRORS) | URL_SCENARIOS | {"challenge"}

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(GENERATE, self.generate)
        self.add_file_routes(app)
        return app

    async def generate(self, request: web.Request) -> web.Response:
        key = bearer_key(request)
        if key is None or not self.knows(key):
            return failure(401, "Invalid API key")
        body = await json_object(request)
        if body is None:
            return failure(400, "Invalid JSON")
        scenario = self.scenario(key, str(body.get("prompt", "")))
        if scenario == "challenge":
            return challenge_page()
        if scenario in ERRORS:
            return failure(*ERRORS[scenario])
        if problem := check(body):
            return problem
        await self.maybe_slow(body["prompt"])
        image, content_type = self.images.make(body["width"], body["height"])
        data = {
            "image_url": self.image_url(request, image, content_type, scenario),
            "image_id": secrets.token_hex(8),
            "model_name": MODELS[body["model_index"]],
            "points_used": 1,
            "remaining_points": 99,
        }
        return web.json_response({"success": True, "message": "Image generated", "data": data})


def check(body: dict) -> web.Response | None:
    if sorted(body) != sorted(FIELDS):
        return failure(400, f"expected exactly the fields {', '.join(FIELDS)}")
    if not isinstance(body["prompt"], str) or not body["prompt"]:
        return failure(400, "prompt is required")
    if not all(
        isinstance(body[side], int) and 64 <= body[side] <= 2048 for side in ("width", "height")
    ):
        return failure(400, "width and height must be between 64 and 2048")
    if body["model_index"] not in MODELS:
        return failure(400, f"model_index {body['model_index']} does not exist")
    return None


def start_exacg(**kwargs: Any) -> tuple[FakeServer, ExacgFake]:
    """Start a fake on a free port; the gateway's SD_API_BASE is `server.url`."""
    fake = ExacgFake(**kwargs)
    return FakeServer(fake.app()).start(), fake
