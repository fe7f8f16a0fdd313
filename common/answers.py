"""The answers of the generation routes, built from a JobResult: the chat completion (its
Markdown in the Z-Image script's layout, so the regular expressions its users wrote keep
working, every piece of user or LLM text neutralised first) and the Images API response.

Both sides build them: the api for a waiting client, the worker for a background job's
stored result, so a job's `result` is exactly what the route would have answered.
"""

import time
from collections.abc import Mapping
from typing import Literal

import msgspec
import pybase64

from common.prompt.markup import neutralise
from common.prompt.size_plan import describe_ratio
from common.schemas import AnswerSpec, ImageUsage, JobResult, StoredImage


def base64_json(data: bytes | memoryview) -> msgspec.Raw:
    """An image's bytes as the JSON string of their base64, which msgspec writes into the body
    as it is: pybase64's SIMD encoder takes 23 µs for a 200 KB image, msgspec's own 140."""
    return msgspec.Raw(b'"' + pybase64.b64encode(data) + b'"')


class ImageData(msgspec.Struct, omit_defaults=True):
    url: str | None = None
    b64_json: msgspec.Raw | None = None  # base64_json's
    revised_prompt: str | None = None


class InputTokensDetails(msgspec.Struct):
    text_tokens: int = 0
    image_tokens: int = 0


class ImagesUsage(msgspec.Struct):
    input_tokens: int = 0
    input_tokens_details: InputTokensDetails = msgspec.field(default_factory=InputTokensDetails)
    output_tokens: int = 0
    total_tokens: int = 0


class ImagesResponse(msgspec.Struct, omit_defaults=True):
    """What was made: `size`, `quality`, `background` and `output_format` of the images as
    made (the first image's size and format when they differ); `usage` when reported."""

    created: int
    data: list[ImageData]
    size: str | None = None
    quality: str | None = None
    background: str | None = None
    output_format: str | None = None
    usage: ImagesUsage | None = None


class CompletionUsage(msgspec.Struct):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class AssistantMessage(msgspec.Struct):
    content: str
    role: Literal["assistant"] = "assistant"
    refusal: None = None  # OpenAI's schema requires the key


class Choice(msgspec.Struct):
    message: AssistantMessage
    index: int = 0
    finish_reason: str = "stop"
    logprobs: None = None


class ChatCompletion(msgspec.Struct):
    id: str
    created: int
    model: str
    choices: list[Choice]
    usage: CompletionUsage
    object: Literal["chat.completion"] = "chat.completion"


def image_url(base_url: str, image_id: str, extension: str) -> str:
    return f"{base_url}/image/{image_id}.{extension}"


def link_to(base_url: str, image: StoredImage) -> str:
    """The image's direct link when its store gave one (S3_PUBLIC_BASE_URL), else /image/{id}."""
    return image.link or image_url(base_url, image.id, image.extension)


def usage_of(result: JobResult | None) -> CompletionUsage:
    if result is None:
        return CompletionUsage()
    prompt, completion = result.usage.prompt_tokens, result.usage.completion_tokens
    return CompletionUsage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    )


def completion(completion_id: str, model: str, result: JobResult, base_url: str) -> ChatCompletion:
    return ChatCompletion(
        id=completion_id,
        created=int(time.time()),
        model=model,
        choices=[Choice(message=AssistantMessage(content=render(result, base_url)))],
        usage=usage_of(result),
    )


_FORMATS = {"jpg": "jpeg"}  # extensions whose Images API name differs


def output_format(image: StoredImage) -> str:
    return _FORMATS.get(image.extension, image.extension)


def usage_body(usage: ImageUsage | None) -> ImagesUsage | None:
    if usage is None:
        return None
    return ImagesUsage(
        input_tokens=usage.input_tokens,
        input_tokens_details=InputTokensDetails(
            text_tokens=usage.text_tokens, image_tokens=usage.image_tokens
        ),
        output_tokens=usage.output_tokens,
        total_tokens=usage.input_tokens + usage.output_tokens,
    )


def images_response(
    result: JobResult, base_url: str, response_format: str, data: Mapping[str, bytes | memoryview]
) -> ImagesResponse:
    """`response_format` `url`, `b64_json`, or `both` (each item carries both); `data` holds
    each image's bytes by id unless it is `url`."""
    items = [
        ImageData(
            url=link_to(base_url, image) if response_format != "b64_json" else None,
            b64_json=base64_json(data[image.id]) if response_format != "url" else None,
            revised_prompt=result.prompt,  # what the upstream got: enhanced, when it was
        )
        for image in result.images
    ]
    first = result.images[0]
    return ImagesResponse(
        created=int(time.time()),
        data=items,
        size=f"{first.width}x{first.height}",
        quality=result.quality or "auto",
        background=result.background or "opaque",
        output_format=output_format(first),
        usage=usage_body(result.image_usage),
    )


def needs_bytes(spec: AnswerSpec) -> bool:
    return spec.route != "chat" and spec.response_format != "url"


def answer(
    spec: AnswerSpec, job_id: str, result: JobResult, data: Mapping[str, bytes | memoryview]
) -> ChatCompletion | ImagesResponse:
    """The route's normal 200 body for this job."""
    if spec.route == "chat":
        return completion(f"chatcmpl-{job_id}", result.model, result, spec.base_url)
    return images_response(result, spec.base_url, spec.response_format or "both", data)


def render(result: JobResult, base_url: str) -> str:
    alt = neutralise(result.prompt[:80]) or "image"
    lines = [f"![{alt}]({link_to(base_url, image)})" for image in result.images]
    lines += ["", "---"]
    if result.enhanced:
        lines += [
            "**✨ Enhanced Prompt:**",
            neutralise(result.prompt),
            "",
            "**📝 Original Input:**",
            neutralise(result.original),
            "",
        ]
    else:
        if result.enhance_failure:  # the Z-Image script's label, then why
            lines += [
                f"**⚠️ Enhancement failed, using original prompt** ({neutralise(result.enhance_failure)})",
                "",
            ]
        lines += ["**📝 Prompt:**", neutralise(result.prompt), ""]
    first = result.images[0]
    lines.append(
        f"**🎨 Aspect Ratio:** {result.ratio or describe_ratio(first.width, first.height)}"
    )
    lines.append(f"**📐 Resolution:** {first.width}×{first.height}")
    lines.append(f"**🤖 Model:** {neutralise(result.model)}")
    if result.seed is not None:
        seeds = ", ".join(str(result.seed + i) for i in range(len(result.images)))
        lines.append(f"**🎲 Seed:** {seeds}")
    lines += [f"**ℹ️ Note:** {neutralise(note)}" for note in result.notes]
    return "\n".join(lines)
