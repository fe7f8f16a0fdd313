"""Schemathesis against the OpenAPI document at /schema: every route, valid and invalid data,
and no answer may be a 5xx. Run alone with `.venv/bin/pytest tests/e2e/test_fuzz.py`."""

import subprocess
import sys
from pathlib import Path


def test_schemathesis_finds_no_server_error(start_gateway):
    gateway = start_gateway()
    schemathesis = Path(sys.executable).parent / "schemathesis"
    run = subprocess.run(
        [
            str(schemathesis),
            "run",
            f"{gateway.url}/schema/openapi.json",
            "--header",
            f"Authorization: Bearer {gateway.key}",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "30",
            "--workers",
            "2",
            "--seed",
            "20261121",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, (
        run.stdout.partition("ERRORS")[2][:6000] or run.stdout[-4000:] + run.stderr[-2000:]
    )
    assert " passed" in run.stdout
