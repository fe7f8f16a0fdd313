"""A local stand-in upstream: labelled PNGs rendered in-process, so imagegate works with no keys."""

import asyncio

from worker.providers.base import Upstream, UpstreamRequest
from worker.render.placeholder import render_placeholder


async def generate(upstream: Upstream, request: UpstreamRequest) -> list[bytes]:
    width, height = request.width or 1024, request.height or 1024
    seed = request.seed or 0
    # Rendering a large PNG takes tens of milliseconds of CPU: keep the event loop free.
    return await asyncio.gather(
        *(
            asyncio.to_thread(
                render_placeholder,
                width,
                height,
                ["imagegate placeholder", request.prompt, f"{width}x{height}  seed {seed + i}"],
                seed + i,
            )
            for i in range(request.n)
        )
    )
