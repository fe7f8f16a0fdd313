"""Redaction: what an upstream's words may carry into a log or an answer."""

from common.config.types import ProviderSpec
from worker.failover import secrets_of
from worker.upstream.redact import redact


def test_redaction_removes_keys_their_halves_urls_and_hosts():
    spec = ProviderSpec(
        name="p", kind="a1111", base_url="http://gpu.internal:7860", keys=("artist:hunter2-pass",)
    )
    text = "auth artist:hunter2-pass failed; password hunter2-pass at http://gpu.internal:7860/sdapi on gpu.internal"
    cleaned = redact(text, secrets_of(spec))
    assert "hunter2" not in cleaned and "gpu.internal" not in cleaned and "http" not in cleaned


def test_redaction_strips_every_address_and_port():
    text = redact(
        "the renderer at 10.1.2.3:6379, internal-render.svc:8080, [fd00::7]:443, "
        "fe80::1, localhost:9000 and port 6380 refused 1024x1024 at 12:30:45 (ratio 16:9)"
    )
    for secret in ("10.1.2.3", "6379", "internal-render", "8080", "fd00", "fe80", "9000", "6380"):
        assert secret not in text
    assert "1024x1024" in text and "12:30:45" in text and "16:9" in text
