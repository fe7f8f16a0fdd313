"""The table of kinds and the adapters: every kind has an adapter, and every adapter a kind."""

import importlib
import pkgutil

import msgspec

import worker.providers
from common.config.file import _Provider
from common.config.kinds import KINDS, OPTION_NAMES
from worker.providers import ADAPTERS


def adapter_modules() -> set[str]:
    """The modules of worker/providers that hold an adapter (a `generate` function)."""
    return {
        info.name
        for info in pkgutil.iter_modules(worker.providers.__path__)
        if callable(
            getattr(importlib.import_module(f"worker.providers.{info.name}"), "generate", None)
        )
    }


def test_every_kind_has_an_adapter():
    assert set(ADAPTERS) == set(KINDS)
    for name, kind in KINDS.items():
        module = importlib.import_module(f"worker.providers.{kind.adapter}")
        assert ADAPTERS[name] is module.generate


def test_every_adapter_has_a_kind():
    assert adapter_modules() == {kind.adapter for kind in KINDS.values()}


def test_every_kind_ends_with_a_catch_all_row():
    for kind in KINDS.values():
        assert kind.models[-1][0] == ""


def test_the_config_file_takes_every_option_of_every_kind():
    fields = {field.name for field in msgspec.structs.fields(_Provider)}
    assert set(OPTION_NAMES) <= fields
