"""`api` and `worker` import `common` and never each other; `common` imports neither."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {"api": ("worker",), "worker": ("api",), "common": ("api", "worker")}


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_packages_keep_to_their_layer(package):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files
    crossing = {
        str(path.relative_to(ROOT)): sorted(imported(path) & set(FORBIDDEN[package]))
        for path in files
        if imported(path) & set(FORBIDDEN[package])
    }
    assert crossing == {}
