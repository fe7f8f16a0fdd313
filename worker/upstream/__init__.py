"""Talking to upstreams: the JSON and form calls (http.py) on the one client (client.py),
their failures classified (failures.py), bodies read within a cap (bodies.py), streamed
answers (events.py), image downloads (download.py), redaction of secrets (redact.py),
recognising image bytes (sniff.py).

The modules are imported by their path; this names the few every adapter meets."""

from worker.upstream.failures import Reason, UpstreamFailure
from worker.upstream.http import open_json, post_json
from worker.upstream.sniff import ImageInfo

__all__ = ["ImageInfo", "Reason", "UpstreamFailure", "open_json", "post_json"]
