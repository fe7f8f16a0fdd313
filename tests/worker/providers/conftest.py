"""The fixtures every adapter test uses, from the `FAKE` its module declares:

    FAKE = AdapterTarget("exacg", partial(start_exacg, valid_keys=[KEY]), options={...})

`upstream` is the fake (its server and state), started once per module; `spec` is a provider
of that kind pointing at it, with the server's request log cleared for each test.
"""

from collections.abc import Iterator
from typing import Any

import pytest

from common.config.types import ProviderSpec
from tests.fakes.adapter_calls import AdapterTarget, provider
from tests.fakes.server import FakeServer


def _declared(request: pytest.FixtureRequest) -> AdapterTarget:
    fake = getattr(request.module, "FAKE", None)
    if not isinstance(fake, AdapterTarget):
        pytest.fail(f"{request.module.__name__} uses `upstream` but declares no FAKE")
    return fake


@pytest.fixture(scope="module")
def upstream(request: pytest.FixtureRequest) -> Iterator[tuple[FakeServer, Any]]:
    server, fake = _declared(request).start()
    with server:
        yield server, fake


@pytest.fixture
def spec(request: pytest.FixtureRequest, upstream: tuple[FakeServer, Any]) -> ProviderSpec:
    declared, (server, _) = _declared(request), upstream
    server.clear()
    return provider(declared.kind, server.url + declared.path, options=dict(declared.options))
