"""Every exception class of the code base is drawn in common/errors.py's docstring."""

import importlib
import inspect
import pkgutil
import re

import pytest

import common.errors

PACKAGES = ("api", "common", "worker", "imagegate")


def exception_classes() -> list[tuple[str, str]]:
    found = []
    for package in PACKAGES:
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, f"{package}."):
            if info.name.endswith("__main__"):
                continue
            module = importlib.import_module(info.name)
            for name, value in vars(module).items():
                if (
                    inspect.isclass(value)
                    and issubclass(value, BaseException)
                    and value.__module__ == module.__name__
                ):
                    found.append((module.__name__, name))
    return found


def test_exceptions_are_found():
    assert ("worker.upstream.failures", "UpstreamFailure") in exception_classes()


@pytest.mark.parametrize(("module", "name"), exception_classes())
def test_each_exception_is_drawn_in_the_tree(module, name):
    drawn = re.search(rf"\b{name}\b", common.errors.__doc__ or "")
    assert drawn, f"{module}.{name} is missing from common/errors.py"
