"""Turning a client's request into a GenerateJob: every 400 is raised here, before enqueueing."""

import secrets

import msgspec

from api.jobs.uploads import Upload
from api.openai.wire import (
    ChatCompletionRequest,
    ChatMessage,
    GenerationOptions,
    ImageGenerationRequest,
    ImageUrl,
)
from common.config.types import ModelSpec, ProviderSpec, Settings
from common.errors import InvalidRequest, NotFound
from common.limits import MAX_PROMPT
from common.logs import request_id as current_request_id
from common.prompt.flags import parse_prompt
from common.prompt.markup import strip_controls
from common.prompt.size_plan import check_size
from common.prompt.size_tables import parse_size
from common.schemas import GenerateJob, ImageOptions


def new_job_id() -> str:
    return secrets.token_hex(16)


def chat_prompt(data: ChatCompletionRequest) -> str:
    """The text of the last user message (string, or the text parts of a list), else `prompt`."""
    last = next((m for m in reversed(data.messages) if m.role == "user"), None)
    text = _message_text(last) if last is not None else (data.prompt or "")
    if not text.strip():
        raise InvalidRequest(
            "send a user message describing the image to make",
            param="messages",
            code="missing_field",
        )
    return text


def chat_images(data: ChatCompletionRequest) -> list[Upload]:
    """The image_url parts of the last user message: the input images of an edit."""
    index = next(
        (i for i in reversed(range(len(data.messages))) if data.messages[i].role == "user"), None
    )
    content = data.messages[index].content if index is not None else None
    if not isinstance(content, list):
        return []
    images = []
    for position, part in enumerate(content):
        if part.type != "image_url":
            continue
        param = f"messages[{index}].content[{position}].image_url"
        url = part.image_url.url if isinstance(part.image_url, ImageUrl) else part.image_url
        if not url:
            raise InvalidRequest(f"{param} has no url", param=param, code="missing_field")
        images.append(Upload(param, url=url))
    return images


def _message_text(message: ChatMessage) -> str:
    if isinstance(message.content, str):
        return message.content
    return " ".join(
        part.text for part in message.content or () if part.type == "text" and part.text
    )


def resolve_model(settings: Settings, name: str | None) -> tuple[ProviderSpec, ModelSpec]:
    name = name or settings.default_model or settings.model_names()[0]
    found = settings.find_model(name)
    if found is None:
        raise NotFound(
            f"the model {name!r} does not exist; GET /v1/models lists them",
            param="model",
            code="model_not_found",
        )
    return found


def explicit_size(options: GenerationOptions) -> tuple[int | None, int | None]:
    if (options.width is None) != (options.height is None):
        param = "height" if options.height is None else "width"
        raise InvalidRequest(
            "width and height go together: give both or neither", param=param, code="missing_field"
        )
    if options.width is not None and options.height is not None:
        check_size(options.width, options.height, "width")
        return options.width, options.height
    if options.size and options.size != "auto":
        size = parse_size(options.size)
        if size is None:
            raise InvalidRequest(
                f"size must look like 1024x768, not {options.size!r}", param="size"
            )
        check_size(*size, "size")
        return size
    return None, None


def check_options(options: GenerationOptions, model: ModelSpec) -> None:
    """400 for what no upstream of `model` can honour and no re-encoding can serve."""
    if options.background == "transparent":
        if not model.transparent:
            raise InvalidRequest(
                f"{model.name} cannot make a transparent background; send background: opaque"
                " or auto, or use a model that makes transparent images",
                param="background",
                code="unsupported_value",
            )
        if options.output_format == "jpeg":
            raise InvalidRequest(
                "a transparent background needs output_format png or webp: jpeg has no alpha",
                param="output_format",
                code="unsupported_value",
            )


def build_job(
    options: GenerationOptions,
    prompt: str,
    settings: Settings,
    *,
    request_id: str,
    stream: bool,
    enhance_default: bool,
    previews: int = 0,
) -> GenerateJob:
    prompt = strip_controls(prompt)  # before Markdown shows it or an upstream receives it
    if len(prompt) > MAX_PROMPT:
        raise InvalidRequest(f"the prompt is longer than {MAX_PROMPT} characters", param="prompt")
    _, model = resolve_model(settings, options.model)
    width, height = explicit_size(options)
    check_options(options, model)
    if options.steps is not None and options.steps > model.max_steps:
        raise InvalidRequest(f"{model.name} takes at most {model.max_steps} steps", param="steps")
    parsed = parse_prompt(prompt)
    if not parsed.text:
        raise InvalidRequest(
            "the prompt is empty once its flags are removed", param="prompt", code="missing_field"
        )
    enhance = parsed.enhance and (
        options.enhance if options.enhance is not None else enhance_default
    )
    return GenerateJob(
        id=new_job_id(),
        request_id=request_id,
        model=model.name,
        prompt=parsed.text,
        original=prompt,
        n=options.n,
        width=width,
        height=height,
        ratio=parsed.ratio,
        options=msgspec.convert(options, ImageOptions, from_attributes=True),
        enhance=enhance,
        stream=stream,
        previews=previews,
        notes=parsed.notes,
    )


def images_api_job(data: ImageGenerationRequest, settings: Settings) -> GenerateJob:
    """The job of an Images API request (generations and edits): clients usually send finished
    prompts, so enhancement waits to be asked for; previews only when streaming, and no
    progress text, which its stream has no event for."""
    return build_job(
        data,
        data.prompt,
        settings,
        request_id=current_request_id.get() or "",
        stream=False,
        enhance_default=settings.enhance_images_api,
        previews=data.partial_images if data.stream else 0,
    )
