"""Talking to upstreams: the JSON calls and their failures classified (http.py), image
downloads (download.py), redaction of secrets (redact.py), recognising image bytes (sniff.py).

Those three modules are imported by their path: each is named after its one function."""

from worker.upstream.http import Reason, UpstreamFailure, open_json, post_json
from worker.upstream.sniff import ImageInfo

__all__ = ["ImageInfo", "Reason", "UpstreamFailure", "open_json", "post_json"]
