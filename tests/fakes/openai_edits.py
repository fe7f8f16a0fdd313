"""The fake OpenAI Images API's `/images/edits`: multipart as the real route parses it.

One file goes as `image`, several as `image[]`; a repeated bare `image` is 400
`duplicate_parameter`; a file part without an image content type is the mimetype 400; the
text parts are checked as a generation's fields are.
"""

from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes.openai_validation import Rejected, invalid, validate
from tests.fakes.scenarios import FileParts, form_parts

if TYPE_CHECKING:
    from tests.fakes.openai_images import OpenAIImagesFake

EDITS = "/v1/images/edits"
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp")
EDIT_ONLY_FIELDS = ("input_fidelity",)


def mimetype_error(name: str, content_type: str) -> Rejected:
    return invalid(
        f"Invalid file '{name}': unsupported mimetype ('{content_type}'). Supported file "
        "formats are 'image/jpeg', 'image/png', and 'image/webp'.",
        name,
        "unsupported_file_mimetype",
    )


async def read_form(request: web.Request) -> tuple[dict[str, str], FileParts]:
    parsed = await form_parts(request)
    if parsed is None:
        raise invalid("Invalid Content-Type header; expected multipart/form-data.", None, None)
    return parsed


def check_files(files: FileParts) -> None:
    bare = [f for f in files if f[0] == "image"]
    if len(bare) > 1:
        raise invalid(
            "Duplicate parameter: 'image'. You provided multiple values for this parameter, "
            "when only one is expected. To specify multiple values for the parameter, use the "
            "array syntax instead e.g. 'image[]=<value>'.",
            "image",
            "duplicate_parameter",
        )
    for name, _, content_type, _ in files:
        if content_type not in IMAGE_TYPES:
            raise mimetype_error(name, content_type)
    images = [f for f in files if f[0] in ("image", "image[]")]
    if not images:
        raise invalid("Missing required parameter: 'image'.", "image", "missing_required_parameter")
    if len(images) > 16:
        raise invalid("Invalid 'image': at most 16 images.", "image", "array_above_max_length")


def edits_handler(fake: "OpenAIImagesFake"):
    async def edits(request: web.Request) -> web.StreamResponse:
        try:
            fake._authenticate(request.headers.get("Authorization", ""))
            fields, files = await read_form(request)
            check_files(files)
            body: dict[str, Any] = {k: v for k, v in fields.items() if k not in EDIT_ONLY_FIELDS}
            # Form fields are text: ints as decimals, booleans as true/false.
            for name in ("n", "partial_images"):
                if name in body:
                    body[name] = int(body[name])
            if "stream" in body:
                body["stream"] = body["stream"] == "true"
            generation = validate(body, fake.models)
            if generation.family == "dall-e-3":
                raise invalid("dall-e-3 does not support image edits.", "model", None)
        except Rejected as rejected:
            return rejected.response
        fake.edits.append((fields, files))
        if generation.partial_images is not None:
            return await fake._stream(request, generation, prefix="image_edit")
        return fake._answer(request, generation, "png")

    return edits
