"""What the OpenAI Images API accepts, and its error answers, for the fake to enforce."""

import re
import secrets
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec
from aiohttp import web

ACCEPTED_FIELDS = frozenset(
    [
        "prompt",
        "model",
        "n",
        "size",
        "quality",
        "style",
        "response_format",
        "output_format",
        "background",
        "moderation",
        "user",
        "output_compression",
        "stream",
        "partial_images",
    ]
)
# The GPT image models' own fields and the values each takes (openapi.yaml).
GPT_IMAGE_FIELDS = {
    "output_format": ("png", "jpeg", "webp"),
    "background": ("transparent", "opaque", "auto"),
    "moderation": ("low", "auto"),
    "quality": ("low", "medium", "high", "auto"),
}
QUALITIES = {"dall-e-3": ("standard", "hd"), "dall-e-2": ("standard",)}
SIZES = {
    "dall-e-2": ("256x256", "512x512", "1024x1024"),
    "dall-e-3": ("1024x1024", "1792x1024", "1024x1792"),
    "gpt-image": ("1024x1024", "1536x1024", "1024x1536", "auto"),
}
PROMPT_LIMITS = {"dall-e-2": 1000, "dall-e-3": 4000, "gpt-image": 32000, "other": 32000}
SIZE = re.compile(r"(\d+)x(\d+)")


class Generation(msgspec.Struct, frozen=True):
    """A request that passed validation."""

    prompt: str
    model: str
    family: str  # "dall-e-2", "dall-e-3", "gpt-image" or "other"
    n: int
    width: int
    height: int
    b64: bool
    output_format: str = "png"
    background: str = "opaque"  # as made: `auto` resolves to opaque
    quality: str = "medium"  # as made: `auto` resolves to medium
    partial_images: int | None = None  # None: not streamed


class Rejected(Exception):
    """Carries the error response a check decided on."""

    def __init__(self, response: web.Response) -> None:
        self.response = response


def response_headers(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    return {"x-request-id": f"req_{secrets.token_hex(16)}", **(extra or {})}


def openai_error(
    status: int,
    message: str,
    type: str,
    param: str | None = None,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """The OpenAI error body: all four keys, always, nulls included."""
    body = {"error": {"message": message, "type": type, "param": param, "code": code}}
    return web.json_response(body, status=status, headers=response_headers(headers))


def invalid(message: str, param: str | None, code: str | None) -> Rejected:
    return Rejected(openai_error(400, message, "invalid_request_error", param, code))


def model_not_found(model: str) -> web.Response:
    message = f"The model `{model}` does not exist."
    return openai_error(404, message, "invalid_request_error", None, "model_not_found")


async def json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise invalid(
            "We could not parse the JSON body of your request. (HINT: This likely means you"
            " aren't using your HTTP library correctly.)",
            None,
            None,
        )
    return body


def validate(body: dict[str, Any], models: Iterable[str]) -> Generation:
    """Check a request body as OpenAI does, or raise Rejected with its 400/404 answer."""
    for field in body:
        if field not in ACCEPTED_FIELDS:
            raise invalid(f"Unknown parameter: '{field}'.", field, "unknown_parameter")
    prompt = body.get("prompt")
    if prompt is None:
        raise invalid(
            "Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter"
        )
    if not isinstance(prompt, str):
        raise invalid("Invalid type for 'prompt': expected a string.", "prompt", "invalid_type")
    model = body.get("model") or "dall-e-2"
    if model not in models:
        raise Rejected(model_not_found(model))
    family = _family(model)
    if len(prompt) > PROMPT_LIMITS[family]:
        raise invalid(
            f"Invalid 'prompt': string too long. Expected a string with maximum length"
            f" {PROMPT_LIMITS[family]}, but got a string with length {len(prompt)} instead.",
            "prompt",
            "string_above_max_length",
        )
    n = _check_n(body.get("n"), family)
    width, height = _check_size(body.get("size"), family)
    generation = Generation(prompt, model, family, n, width, height, _wants_b64(body, family))
    return _check_gpt_image_fields(body, generation)


def _choice(body: dict[str, Any], field: str, allowed: Iterable[str]) -> Any:
    value = body.get(field)
    if value is not None and value not in allowed:
        supported = ", ".join(f"'{v}'" for v in allowed)
        raise invalid(
            f"Invalid value: '{value}'. Supported values are: {supported}.", field, "invalid_value"
        )
    return value


def _check_gpt_image_fields(body: dict[str, Any], generation: Generation) -> Generation:
    """The fields only GPT image models take (others refuse them), and how they combine."""
    if generation.family != "gpt-image":
        for field in (*GPT_IMAGE_FIELDS, "output_compression", "stream", "partial_images"):
            if field in body and field != "quality":
                raise invalid(f"Unknown parameter: '{field}'.", field, "unknown_parameter")
        _choice(body, "quality", QUALITIES.get(generation.family, ("standard", "hd")))
        return generation
    chosen = {field: _choice(body, field, allowed) for field, allowed in GPT_IMAGE_FIELDS.items()}
    output_format = chosen["output_format"] or "png"
    if chosen["background"] == "transparent" and output_format == "jpeg":
        raise invalid(
            "Transparent background is not supported for jpeg output format.",
            "background",
            "invalid_value",
        )
    compression = body.get("output_compression")
    if compression is not None and (
        not isinstance(compression, int) or not 0 <= compression <= 100
    ):
        raise invalid(
            "Invalid 'output_compression': expected an integer between 0 and 100.",
            "output_compression",
            "invalid_value",
        )
    partial = body.get("partial_images")
    if partial is not None and (not isinstance(partial, int) or not 0 <= partial <= 3):
        raise invalid(
            "Invalid 'partial_images': expected an integer between 0 and 3.",
            "partial_images",
            "invalid_value",
        )
    background = chosen["background"] or "auto"
    return msgspec.structs.replace(
        generation,
        output_format=output_format,
        background="opaque" if background == "auto" else background,
        quality="medium" if chosen["quality"] in (None, "auto") else chosen["quality"],
        partial_images=(partial or 0) if body.get("stream") is True else None,
    )


def _family(model: str) -> str:
    if model.startswith("gpt-image"):
        return "gpt-image"
    return model if model in ("dall-e-2", "dall-e-3") else "other"


def _check_n(n: Any, family: str) -> int:
    if n is None:
        return 1
    if not isinstance(n, int) or isinstance(n, bool):
        raise invalid("Invalid type for 'n': expected an integer.", "n", "invalid_type")
    if not 1 <= n <= 10:
        raise invalid(
            f"Invalid 'n': expected a value between 1 and 10, but got {n} instead.",
            "n",
            "integer_above_max_value" if n > 10 else "integer_below_min_value",
        )
    if family == "dall-e-3" and n != 1:
        raise invalid("You must provide n=1 for this model.", "n", "invalid_value")
    return n


def _check_size(size: Any, family: str) -> tuple[int, int]:
    if size is None or size == "auto" and family == "gpt-image":
        return 1024, 1024
    allowed = SIZES.get(family)
    match = SIZE.fullmatch(size) if isinstance(size, str) else None
    if allowed is None:
        ok = match is not None and all(
            0 < int(side) <= 4096 and int(side) % 8 == 0 for side in match.groups()
        )
        supported = "'WxH' with sides multiples of 8 up to 4096"
    else:
        ok = size in allowed
        supported = ", ".join(f"'{s}'" for s in allowed)
    if not ok or match is None:
        raise invalid(
            f"Invalid value: '{size}'. Supported values are: {supported}.", "size", "invalid_value"
        )
    return int(match.group(1)), int(match.group(2))


def _wants_b64(body: dict[str, Any], family: str) -> bool:
    # gpt-image models always answer base64 and refuse the field, even set to null.
    if family == "gpt-image":
        if "response_format" in body:
            raise invalid(
                "Unknown parameter: 'response_format'.", "response_format", "unknown_parameter"
            )
        return True
    response_format = body.get("response_format") or "url"
    if response_format not in ("url", "b64_json"):
        raise invalid(
            f"Invalid value: '{response_format}'. Supported values are: 'url' and 'b64_json'.",
            "response_format",
            "invalid_value",
        )
    return response_format == "b64_json"
