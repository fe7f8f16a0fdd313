"""Structured logs carrying the request id from api into worker: one JSON object a line for
machines, or readable text lines on a terminal (LOG_FORMAT)."""

import contextvars
import json
import logging
import sys
import time
import traceback

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


MAX_MESSAGE = 2000


def message(record: logging.LogRecord) -> str:
    """The record's message with every exception among its arguments reduced to its type's
    name: an exception's text can carry data (a Redis error echoes its command, image bytes
    included), and libraries such as arq log `failed, %s: %s` with the exception itself."""
    args = record.args
    if isinstance(record.msg, BaseException):
        text = type(record.msg).__name__
    elif isinstance(args, tuple) and args:
        safe = tuple(type(a).__name__ if isinstance(a, BaseException) else a for a in args)
        try:
            text = str(record.msg) % safe
        except (TypeError, ValueError):
            text = str(record.msg)
    else:
        text = record.getMessage()
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


FIELDS = ("job_id", "provider", "model", "reason", "status", "duration_ms", "outcome")


def _error(record: logging.LogRecord) -> tuple[str, list[str]] | None:
    """Type and frames only: an exception's message can quote URLs and keys."""
    if not record.exc_info or record.exc_info[0] is None:
        return None
    frames = traceback.extract_tb(record.exc_info[2])
    return record.exc_info[0].__name__, [f"{f.filename}:{f.lineno} {f.name}" for f in frames]


class TextFormatter(logging.Formatter):
    """`12:00:01 warning imagegate.worker: message  job_id=… provider=…` for people."""

    def format(self, record: logging.LogRecord) -> str:
        clock = time.strftime("%H:%M:%S", time.localtime(record.created))
        extras = [
            f"{name}={value}"
            for name in FIELDS
            if (value := getattr(record, name, None)) is not None
        ]
        if (rid := request_id.get()) is not None:
            extras.insert(0, f"request_id={rid}")
        line = f"{clock} {record.levelname.lower():<7} {record.name}: {message(record)}"
        if extras:
            line += "  " + " ".join(extras)
        if error := _error(record):
            line += f"\n    {error[0]} at " + "\n      ".join(error[1][-5:])
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": message(record),
        }
        if (rid := request_id.get()) is not None:
            entry["request_id"] = rid
        for name in FIELDS:
            if (value := getattr(record, name, None)) is not None:
                entry[name] = value
        if error := _error(record):
            entry["error"], entry["trace"] = error
        return json.dumps(entry, ensure_ascii=False)


def configure(level: str = "INFO", log_format: str | None = None) -> None:
    """Logs to stderr at `level`; `log_format` "text" or "json", None: text on a terminal."""
    handler = logging.StreamHandler(sys.stderr)
    text = log_format == "text" or (log_format is None and sys.stderr.isatty())
    handler.setFormatter(TextFormatter() if text else JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Access logs would repeat every request; our own request log line replaces them.
    logging.getLogger("uvicorn.access").disabled = True
    # arq logs each job with its arguments, httpx each request with its URL (an upstream's
    # address, sometimes a signed query): our own lines replace both.
    for noisy in ("arq.worker", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
