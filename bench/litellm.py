"""LiteLLM proxy 1.80.0, from its own venv (bench/.litellm-venv, made by bench/run.sh), on the
same fake upstream as imagegate: the comparison users make."""

import json
import os
import tempfile
from pathlib import Path

from bench.processes import (
    SLOW_MODEL,
    Upstream,
    free_port,
    spawn,
    stop,
    tree_cpu_seconds,
    wait_http,
)
from bench.processes import rss_mb as _rss_mb

VENV = Path(__file__).parent / ".litellm-venv"
VERSION = "1.80.0"
MASTER_KEY = "sk-bench-litellm"


def missing() -> str | None:
    """Why LiteLLM cannot run here, or None."""
    if not (VENV / "bin" / "litellm").exists():
        return f"LiteLLM is not installed in {VENV} (bench/run.sh installs it)"
    return None


def _config(upstream: Upstream) -> dict:
    def image_model(name: str, base: str) -> dict:
        return {
            "model_name": name,
            "litellm_params": {"model": f"openai/{name}", "api_base": base, "api_key": "sk-bench"},
            "model_info": {"mode": "image_generation"},
        }

    return {
        "model_list": [
            image_model("bench-model", upstream.base()),
            image_model(SLOW_MODEL, upstream.base(slow=True)),
        ],
        "litellm_settings": {"drop_params": True, "telemetry": False},
        "general_settings": {"master_key": MASTER_KEY},
    }


class LiteLLM:
    """The proxy with its defaults (one uvicorn worker per core) and a master key, no DB."""

    def __init__(self, upstream: Upstream) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="bench-litellm-")
        folder = Path(self._dir.name)
        config = folder / "config.json"  # JSON is YAML: no yaml writer needed here
        config.write_text(json.dumps(_config(upstream)))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.headers = {"Authorization": f"Bearer {MASTER_KEY}"}
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))},
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no download of the price list at start
            "LITELLM_LOG": "ERROR",
            "LITELLM_TELEMETRY": "False",
            "DISABLE_SCHEMA_UPDATE": "True",
        }
        command = [str(VENV / "bin" / "litellm"), "--config", str(config)]
        command += ["--host", "127.0.0.1", "--port", str(self.port)]
        self.log = folder / "litellm.log"
        self.process = spawn(command, env, log=self.log)
        try:
            wait_http(f"{self.url}/health/liveliness", timeout=120)
        except TimeoutError:
            tail = self.log.read_text(errors="replace")[-2000:]
            self.stop()
            raise RuntimeError(f"LiteLLM did not start:\n{tail}") from None

    def cpu(self) -> float:
        return tree_cpu_seconds(self.process.pid)

    def rss_mb(self) -> float:
        from bench.processes import descendants

        return sum(_rss_mb(pid) for pid in [self.process.pid, *descendants(self.process.pid)])

    def stop(self) -> None:
        stop([self.process])
        self._dir.cleanup()

    def __enter__(self) -> "LiteLLM":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
