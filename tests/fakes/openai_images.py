"""A fake OpenAI Images API steered by per-key behaviours and magic words in the prompt."""

import asyncio
import base64
import json
import re
import secrets
import time
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from tests.fakes.openai_edits import EDITS, edits_handler
from tests.fakes.openai_validation import (
    Generation,
    Rejected,
    json_body,
    model_not_found,
    openai_error,
    response_headers,
    validate,
)
from tests.fakes.payloads import ImageMaker, Kind
from tests.fakes.scenarios import challenge_page
from tests.fakes.server import FakeServer

GENERATIONS = "/v1/images/generations"
DEFAULT_MODELS = ("dall-e-2", "dall-e-3", "gpt-image-1", "flux-dev")
SAFETY = (
    "Your request was rejected as a result of our safety system. Your request may contain"
    " content that is not allowed by our safety system."
)

# Failure scenarios: name -> (status, type, code, message, extra headers).
ERRORS: dict[str, tuple[int, str, str | None, str, dict[str, str]]] = {
    "server_error": (
        500,
        "server_error",
        None,
        "The server had an error while processing your request.",
        {},
    ),
    "overloaded": (
        503,
        "server_error",
        None,
        "The engine is currently overloaded, please try again later.",
        {},
    ),
    "rate_limited": (
        429,
        "requests",
        "rate_limit_exceeded",
        "Rate limit reached for images per minute. Limit: 5/1min.",
        {"retry-after": "7"},
    ),
    "insufficient_quota": (
        429,
        "insufficient_quota",
        "insufficient_quota",
        "You exceeded your current quota, please check your plan and billing details.",
        {},
    ),
    "region_blocked": (
        403,
        "request_forbidden",
        "unsupported_country_region_territory",
        "Country, region, or territory not supported",
        {},
    ),
    "moderation_blocked": (400, "image_generation_user_error", "moderation_blocked", SAFETY, {}),
    "content_policy_violation": (
        400,
        "invalid_request_error",
        "content_policy_violation",
        SAFETY,
        {},
    ),
}
# Scenarios that answer 200 with something other than a plain PNG.
OUTPUTS: dict[str, Kind] = {"huge_image": "huge", "not_an_image": "html"}
FAILURES = frozenset(ERRORS) | {"model_not_found", "cloudflare_challenge"}
SCENARIOS = FAILURES | set(OUTPUTS)
MAGIC_WORDS = {
    "__500__": "server_error",
    "__503__": "overloaded",
    "__429__": "rate_limited",
    "__quota__": "insufficient_quota",
    "__403__": "region_blocked",
    "__moderation__": "moderation_blocked",
    "__policy__": "content_policy_violation",
    "__badmodel__": "model_not_found",
    "__html403__": "cloudflare_challenge",
    "__huge__": "huge_image",
    "__notimage__": "not_an_image",
}
SLOW = re.compile(r"__slow:(\d+(?:\.\d+)?)__")


def scenario_response(name: str, model: str) -> web.Response:
    """The answer of a failure scenario, as the real API gives it."""
    if name == "model_not_found":
        return model_not_found(model)
    if name == "cloudflare_challenge":
        return challenge_page(**{"server": "cloudflare", "cf-ray": "8f0c0ffee0000000-LHR"})
    status, type_, code, message, headers = ERRORS[name]
    return openai_error(status, message, type_, None, code, headers)


class OpenAIImagesFake:
    """The upstream's state: accepted keys, behaviours, and every image it produced."""

    def __init__(
        self,
        valid_keys: Iterable[str] = ("sk-fake-valid",),
        key_behaviour: Mapping[str, str] | None = None,
        models: Iterable[str] = DEFAULT_MODELS,
    ) -> None:
        self.valid_keys = set(valid_keys)
        self.key_behaviour = dict(key_behaviour or {})
        unknown = set(self.key_behaviour.values()) - SCENARIOS
        if unknown:
            raise ValueError(f"unknown scenarios {sorted(unknown)}; known: {sorted(SCENARIOS)}")
        self.models = list(models)
        self.images = ImageMaker()
        self.preview_images = ImageMaker()
        self.files: dict[str, tuple[bytes, str]] = {}  # served at /files/<name>
        # Every edit accepted: its text fields and (name, filename, content type, bytes) files.
        self.edits: list[tuple[dict[str, str], list[tuple[str, str, str, bytes]]]] = []

    @property
    def previews(self) -> list[bytes]:
        """Every partial image streamed, in order."""
        return self.preview_images.produced

    @property
    def produced(self) -> list[bytes]:
        """The bytes of every image answered, in order, whether sent as URL or base64."""
        return self.images.produced

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024**2)
        app.router.add_post(GENERATIONS, self.generations)
        app.router.add_post(EDITS, edits_handler(self))
        app.router.add_get("/files/{name}", self.download)
        return app

    async def generations(self, request: web.Request) -> web.Response:
        try:
            key = self._authenticate(request.headers.get("Authorization", ""))
            body = await json_body(request)
            behaviour = self.key_behaviour.get(key)
            # A failing key fails before validation, as a rate limit or a quota check does.
            if behaviour in FAILURES:
                raise Rejected(scenario_response(behaviour, body.get("model") or "dall-e-2"))
            generation = validate(body, self.models)
        except Rejected as rejected:
            return rejected.response
        if slow := SLOW.search(generation.prompt):
            await asyncio.sleep(float(slow.group(1)))
        scenarios = [name for word, name in MAGIC_WORDS.items() if word in generation.prompt]
        if behaviour is not None:
            scenarios.insert(0, behaviour)
        if failure := next((name for name in scenarios if name in FAILURES), None):
            return scenario_response(failure, generation.model)
        kinds = [OUTPUTS[name] for name in scenarios if name in OUTPUTS]
        if generation.partial_images is not None:
            return await self._stream(request, generation)
        return self._answer(request, generation, kinds[0] if kinds else "png")

    async def download(self, request: web.Request) -> web.Response:
        stored = self.files.get(request.match_info["name"])
        if stored is None:
            return web.Response(status=404, text="BlobNotFound", content_type="text/plain")
        data, content_type = stored
        return web.Response(body=data, content_type=content_type)

    def _authenticate(self, authorization: str) -> str:
        scheme, _, key = authorization.partition(" ")
        key = key.strip()
        if (
            scheme.lower() == "bearer"
            and key
            and (key in self.valid_keys or key in self.key_behaviour)
        ):
            return key
        if not key:
            message = (
                "You didn't provide an API key. You need to provide your API key in an"
                " Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
            )
        else:
            masked = f"{key[:3]}...{key[-4:]}" if len(key) > 8 else "*" * len(key)
            message = f"Incorrect API key provided: {masked}."
        raise Rejected(openai_error(401, message, "invalid_request_error", None, "invalid_api_key"))

    def _make(self, generation: Generation, kind: Kind = "png") -> tuple[bytes, str]:
        return self.images.make(
            generation.width,
            generation.height,
            kind,
            output_format=generation.output_format,
            transparent=generation.background == "transparent",
        )

    def _made(self, generation: Generation) -> dict[str, Any]:
        """What a GPT image model says it made, beside the images."""
        return {
            "size": f"{generation.width}x{generation.height}",
            "quality": generation.quality,
            "background": generation.background,
            "output_format": generation.output_format,
        }

    def _usage(self, generation: Generation, images: int) -> dict[str, Any]:
        tokens = len(generation.prompt.split())
        return {
            "input_tokens": tokens,
            "output_tokens": 1056 * images,
            "total_tokens": tokens + 1056 * images,
            "input_tokens_details": {"text_tokens": tokens, "image_tokens": 0},
        }

    async def _stream(
        self, request: web.Request, generation: Generation, prefix: str = "image_generation"
    ) -> web.StreamResponse:
        """A streamed answer: per image, `partial_images` previews, then its completed event;
        `__midstream_error__` in the prompt fails after the first preview. The body closes
        after the last completed event, with no [DONE]."""
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", **response_headers()}
        )
        await response.prepare(request)
        created = int(time.time())
        for _ in range(generation.n):
            for index in range(generation.partial_images or 0):
                preview, _ = self.preview_images.make(64, 64)
                await self._event(
                    response,
                    f"{prefix}.partial_image",
                    {
                        "b64_json": base64.b64encode(preview).decode(),
                        "created_at": created,
                        **self._made(generation),
                        "partial_image_index": index,
                    },
                )
                if "__midstream_error__" in generation.prompt:
                    error = {
                        "type": "server_error",
                        "code": None,
                        "param": None,
                        "message": "The server had an error while processing your request.",
                    }
                    await self._event(response, "error", {"error": error})
                    return response
            image, _ = self._make(generation)
            await self._event(
                response,
                f"{prefix}.completed",
                {
                    "b64_json": base64.b64encode(image).decode(),
                    "created_at": created,
                    **self._made(generation),
                    "usage": self._usage(generation, 1),
                },
            )
        await response.write_eof()
        return response

    @staticmethod
    async def _event(response: web.StreamResponse, name: str, data: dict[str, Any]) -> None:
        payload = json.dumps({"type": name, **data})
        await response.write(f"event: {name}\ndata: {payload}\n\n".encode())

    def _answer(self, request: web.Request, generation: Generation, kind: Kind) -> web.Response:
        data = []
        for _ in range(generation.n):
            image, content_type = self._make(generation, kind)
            if generation.b64:
                item: dict[str, Any] = {"b64_json": base64.b64encode(image).decode()}
            else:
                item = {"url": self._publish(request, image, content_type)}
            if generation.family == "dall-e-3":
                item["revised_prompt"] = f"A detailed, high quality image of {generation.prompt}"
            data.append(item)
        body: dict[str, Any] = {"created": int(time.time()), "data": data}
        if generation.family == "gpt-image":
            body |= self._made(generation)
            body["usage"] = self._usage(generation, generation.n)
        return web.json_response(body, headers=response_headers())

    def _publish(self, request: web.Request, image: bytes, content_type: str) -> str:
        """Store the image and return a signed, blob-storage-looking URL to it."""
        name = f"img-{secrets.token_hex(12)}.png"
        self.files[name] = (image, content_type)
        now = time.time()
        query = urlencode(
            {
                "st": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 300)),
                "se": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 3600)),
                "sp": "r",
                "sv": "2021-08-06",
                "sr": "b",
                "rscd": "inline",
                "rsct": "image/png",
                "sig": base64.b64encode(secrets.token_bytes(32)).decode(),
            }
        )
        return f"{request.url.origin()}/files/{name}?{query}"


def openai_images_app(fake: OpenAIImagesFake) -> web.Application:
    return fake.app()


def start_openai_images(**kwargs: Any) -> tuple[FakeServer, OpenAIImagesFake]:
    """Start a fake on a free port; its base URL for the gateway is `server.url + "/v1"`."""
    fake = OpenAIImagesFake(**kwargs)
    return FakeServer(fake.app()).start(), fake
