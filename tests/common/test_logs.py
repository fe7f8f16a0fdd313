"""Log lines hold our words only: no exception message, whoever logs it."""

import json
import logging
import subprocess
import sys

from redis.exceptions import OutOfMemoryError

from common.logs import MAX_MESSAGE, JsonFormatter, TextFormatter

IMAGE = "iVBORw0KGgo" * 1000  # what a refused SET echoes back: the image itself


def line(msg: str, *args, exc: BaseException | None = None) -> dict:
    exc_info = (type(exc), exc, exc.__traceback__) if exc else None
    record = logging.LogRecord("arq.worker", logging.ERROR, __file__, 1, msg, args, exc_info)
    return json.loads(JsonFormatter().format(record))


def test_an_exception_passed_as_an_argument_is_logged_by_type_only():
    error = OutOfMemoryError(
        f"Command # 1 (SET imagegate:image:x {IMAGE}) of pipeline caused error"
    )
    entry = line("%6.2fs ! %s failed, %s: %s", 1.5, "job:generate", "OutOfMemoryError", error)
    assert entry["message"] == "  1.50s ! job:generate failed, OutOfMemoryError: OutOfMemoryError"


def test_exc_info_gives_the_type_and_frames_never_the_message():
    try:
        raise OutOfMemoryError(f"SET x {IMAGE}")
    except OutOfMemoryError as error:
        entry = line("job failed", exc=error)
    assert entry["error"] == "OutOfMemoryError" and entry["trace"]
    assert IMAGE[:20] not in json.dumps(entry)


def test_a_long_message_is_cut():
    assert len(line("%s", "x" * 10 * MAX_MESSAGE)["message"]) == MAX_MESSAGE
    assert line("%d items", "not a number")["message"] == "%d items"


def record(**extra) -> logging.LogRecord:
    entry = logging.LogRecord(
        "imagegate.worker", logging.WARNING, "f.py", 1, "key %s", ("2",), None
    )
    entry.__dict__.update(extra)
    return entry


def test_text_lines_read_as_sentences_with_their_fields():
    line = TextFormatter().format(record(provider="sf", duration_ms=0))
    assert "warning" in line and "imagegate.worker: key 2" in line
    assert "provider=sf" in line and "duration_ms=0" in line
    assert json.loads(JsonFormatter().format(record(provider="sf")))["provider"] == "sf"


def run_check_config(env: dict[str, str]) -> str:
    return subprocess.run(
        [sys.executable, "-m", "imagegate", "check-config"],
        env={"PATH": "", "IMAGEGATE_ENV_FILE": "/dev/null", **env},
        capture_output=True,
        text=True,
        timeout=30,
    ).stderr


def test_log_format_chooses_json_or_text():
    # stderr is a pipe here: json unless LOG_FORMAT asks for text.
    [json_line] = run_check_config({}).splitlines()
    assert json.loads(json_line)["logger"] == "imagegate.config"
    [text_line] = run_check_config({"LOG_FORMAT": "text"}).splitlines()
    assert "info    imagegate.config: configuration read from" in text_line
