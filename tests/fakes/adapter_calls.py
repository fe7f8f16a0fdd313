"""Calling one adapter against a fake upstream in-process, as the failover loop would."""

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import pytest

from common.config.kinds import model_spec
from common.config.types import ProviderSpec
from worker.providers import ADAPTERS
from worker.providers.base import Upstream, UpstreamRequest
from worker.upstream.client import UpstreamClient
from worker.upstream.failures import UpstreamFailure


class AdapterTarget(NamedTuple):
    """The fake an adapter test module runs against (tests/worker/providers/conftest.py)."""

    kind: str
    start: Callable[[], tuple[Any, Any]]  # a tests/fakes start_* function, arguments bound
    path: str = ""  # appended to the fake's URL: the provider's base URL
    options: Mapping[str, Any] = {}


def provider(kind: str, base_url: str, keys: tuple[str, ...] = (), **fields: Any) -> ProviderSpec:
    return ProviderSpec(name=f"fake-{kind}", kind=kind, base_url=base_url, keys=keys, **fields)


def image_request(
    kind: str,
    upstream: str,
    prompt: str = "a red fox in snow",
    *,
    name: str | None = None,
    width: int | None = None,
    height: int | None = None,
    n: int = 1,
    seed: int | None = 7,
    negative_prompt: str | None = None,
    steps: int | None = None,
    cfg: float | None = None,
    **traits: Any,
) -> UpstreamRequest:
    """A request as worker/generate.py builds it: the model's defaults fill what the client left out."""
    model = model_spec(kind, name or upstream, upstream, **traits)
    return UpstreamRequest(
        prompt=prompt,
        model=model,
        width=width,
        height=height,
        n=n,
        seed=seed if model.seeds else None,
        negative_prompt=negative_prompt,
        steps=model.steps if steps is None else steps,
        cfg=model.cfg if cfg is None else cfg,
    )


async def call(spec: ProviderSpec, request: UpstreamRequest, key: str | None = None) -> list[bytes]:
    async with UpstreamClient() as client:
        return await ADAPTERS[spec.kind](Upstream(client, spec, key), request)


async def failure(
    spec: ProviderSpec, request: UpstreamRequest, key: str | None = None
) -> UpstreamFailure:
    with pytest.raises(UpstreamFailure) as raised:
        await call(spec, request, key)
    return raised.value
