"""Making a job's images: the model, the prompt (enhanced), the size plan, the upstream calls
with failover, and the output format asked for. What it makes is stored by worker/generate.py."""

import asyncio
import secrets
from typing import NamedTuple

from msgspec.structs import replace

from common.config.types import ModelSpec, ProviderSpec
from common.errors import InvalidRequest, NotFound
from common.prompt.size_plan import SizePlan, plan_size
from common.schemas import (
    Completed,
    Failed,
    GenerateJob,
    ImageOptions,
    JobResult,
    Progress,
    StoredImage,
)
from worker.enhance.llm import Enhancement, enhance_prompt
from worker.failover import Images, Notify
from worker.previews import PreviewRelay
from worker.providers import ADAPTERS
from worker.providers.base import Report, UpstreamRequest
from worker.render.reencode import reencode, target_format
from worker.services import Services


class Outcome(NamedTuple):
    event: Completed | Failed
    images: tuple[tuple[StoredImage, bytes], ...] = ()  # to store with the result
    store_result: bool = True


async def make_images(services: Services, job: GenerateJob) -> Outcome:
    found = services.settings.find_model(job.model)
    if found is None:
        raise NotFound(
            f"the model {job.model!r} is no longer configured",
            code="model_not_found",
            param="model",
        )
    provider, model = found
    if job.images and not model.edits:  # the configuration changed while the job waited
        raise InvalidRequest(
            f"the model {model.name!r} cannot edit images",
            param="model",
            code="edits_not_supported",
        )

    async def notify(text: str) -> None:
        # Only a stream or a job with a record shows progress; a waiting request needs the
        # outcome alone.
        if job.stream or job.answer is not None:
            await services.events.append(job.id, Progress(text))
        if job.answer is not None:
            await services.jobs.set_progress(job.id, text)

    enhancement = await enhance_prompt(services, job, model, notify)
    plan = plan_size(model, job.width, job.height, job.ratio, enhancement.ratio)
    request = _request(job, model, enhancement, plan)
    await notify(f"Generating {_count(job.n)} with {model.name} via {provider.name}")
    images, report = await _upstream_images(services, provider, request, job, notify)
    images = await _as_asked(images, job.options, model)
    stored = tuple((services.store.describe(info, len(data)), data) for data, info in images)
    await services.store.upload(stored)  # before the records: none may point at nothing
    notes = (*job.notes, *plan.notes)
    if len(images) < job.n:  # some OpenAI-compatible servers ignore `n`
        notes += (f"{provider.name} returned {len(images)} of the {job.n} images asked for",)
    result = JobResult(
        images=tuple(meta for meta, _ in stored),
        model=model.name,
        prompt=request.prompt,
        original=job.original,
        enhanced=enhancement.enhanced,
        usage=enhancement.usage,
        enhance_failure=enhancement.failure,
        ratio=plan.ratio,
        seed=request.seed,
        notes=notes,
        quality=report.quality or job.options.quality,
        background=report.background or _background(job.options),
        image_usage=report.usage,
    )
    return Outcome(Completed(result), stored)


def _background(options: ImageOptions) -> str:
    """What a model that reports nothing made: transparent only when asked of a model that
    makes it (the api refuses it of the others)."""
    return "transparent" if options.background == "transparent" else "opaque"


async def _as_asked(images: Images, options: ImageOptions, model: ModelSpec) -> Images:
    """Each image in the output format and compression asked, re-encoded where the upstream
    made something else (off the event loop: encoding a large image takes CPU)."""
    made = []
    for data, info in images:
        target = target_format(info, options, model)
        if target is None:
            made.append((data, info))
        else:
            made.append(await asyncio.to_thread(reencode, data, target, options.output_compression))
    return made


def _request(
    job: GenerateJob, model: ModelSpec, enhancement: Enhancement, plan: SizePlan
) -> UpstreamRequest:
    """The upstream request: the job's fields, the model's defaults, a random seed unless given."""
    options = job.options
    seed = options.seed if options.seed is not None else secrets.randbits(32)
    # An edit keeps its input's size unless the client asked for one.
    sized = not job.images or job.width is not None or job.ratio is not None
    return UpstreamRequest(
        prompt=enhancement.prompt[: model.prompt_limit],
        model=model,
        width=plan.width if sized else None,
        height=plan.height if sized else None,
        seed=seed if model.seeds else None,
        negative_prompt=options.negative_prompt,
        steps=options.steps if options.steps is not None else model.steps,
        cfg=options.cfg if options.cfg is not None else model.cfg,
        options=options,
        images=job.images,
        mask=job.mask,
        input_fidelity=job.input_fidelity,
    )


async def _upstream_images(
    services: Services,
    provider: ProviderSpec,
    base: UpstreamRequest,
    job: GenerateJob,
    notify: Notify,
) -> tuple[Images, Report]:
    """`job.n` images in as few upstream calls as the model's batch allows, the calls in
    parallel; and what the calls reported, added up. Previews go out as they come."""
    adapter, model = ADAPTERS[provider.kind], base.model
    relay = PreviewRelay(services.events, job.id, job.previews)
    calls = [(first, size, relay.report(first)) for first, size in _split(job.n, model.batch)]
    batches = await asyncio.gather(
        *(
            services.failover.run(
                provider, adapter, _batch(base, model.seeds, first, size), notify, report
            )
            for first, size, report in calls
        ),
        return_exceptions=True,  # every call ends before the job does: none outlives a failed job
    )
    images: Images = []
    for batch in batches:
        if isinstance(batch, BaseException):
            raise batch
        images.extend(batch)
    total = Report()
    for *_, report in calls:
        total.made(usage=report.usage, quality=report.quality, background=report.background)
    return images[: job.n], total


def _split(n: int, batch: int) -> list[tuple[int, int]]:
    """(first image index, images in this call) for each upstream call n images need."""
    return [(first, min(batch, n - first)) for first in range(0, n, max(batch, 1))]


def _batch(base: UpstreamRequest, seeds: bool, first: int, size: int) -> UpstreamRequest:
    seed = base.seed + first if seeds and base.seed is not None else base.seed
    return replace(base, n=size, seed=seed)


def _count(n: int) -> str:
    return "an image" if n == 1 else f"{n} images"
