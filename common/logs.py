"""Structured logs: one JSON object per line, carrying the request id from api into worker."""

import contextvars
import json
import logging
import sys
import time
import traceback

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if (rid := request_id.get()) is not None:
            entry["request_id"] = rid
        for name in ("job_id", "provider", "model", "status", "duration_ms", "outcome"):
            if (value := getattr(record, name, None)) is not None:
                entry[name] = value
        if record.exc_info and record.exc_info[0] is not None:
            # Type and frames only: an exception's message can quote URLs and keys.
            entry["error"] = record.exc_info[0].__name__
            entry["trace"] = [
                f"{f.filename}:{f.lineno} {f.name}"
                for f in traceback.extract_tb(record.exc_info[2])
            ]
        return json.dumps(entry, ensure_ascii=False)


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Access logs would repeat every request; our own request log line replaces them.
    logging.getLogger("uvicorn.access").disabled = True
    # arq logs each job with its arguments, httpx each request with its URL (an upstream's
    # address, sometimes a signed query): our own lines replace both.
    for noisy in ("arq.worker", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
