"""Everything imagegate takes from arq beyond its documented API, in one place.

The api writes arq's job records itself (api/jobs/admit.py, in one script with its limits), the
worker picks jobs up and starts them with its own script (worker/pickup.py, from arq's queue
and the webhook deliveries' own) and runs them itself (worker/runner.py, in place of arq's
run_job), overrides some of `Worker`'s methods (worker/loop.py: it finishes deliveries
itself), and `imagegate serve` silences a start-up log line fakeredis cannot answer
(imagegate/embedded.py). tests/common/store/test_arq_compat.py fails when an arq release
changes any of it.
"""

from collections.abc import Callable
from typing import Any, cast

import arq.worker
import msgspec
from arq.constants import in_progress_key_prefix, job_key_prefix, retry_key_prefix
from arq.jobs import DeserializationError, deserialize_job_raw, serialize_job
from arq.utils import timestamp_ms
from arq.worker import get_kwargs

from common.schemas import GenerateJob
from common.store.redis import job_deserializer, job_serializer

# The prefix of a job's in-progress key: whoever sets it runs the job (imagegate's lease).
LEASE_PREFIX = in_progress_key_prefix
JOB_PREFIX = job_key_prefix
RETRY_PREFIX = retry_key_prefix
RETRY_KEPT_SECONDS = 88400  # how long arq's run_job keeps a job's try count

# Worker methods worker/loop.py overrides, with the parameters arq calls them with.
OVERRIDDEN: dict[str, tuple[str, ...]] = {
    "main": (),
    "_poll_iteration": (),
    "_release_sem_dec_counter_on_complete": (),
    "finish_job": (
        "job_id",
        "finish",
        "result_data",
        "result_timeout_s",
        "keep_result_forever",
        "incr_score",
        "keep_in_progress",
    ),
    "finish_failed_job": ("job_id", "result_data"),
    "heart_beat": (),
    "close": (),
}
# Worker methods and attributes worker/loop.py, worker/runner.py and imagegate/processes.py
# use as arq's start_jobs and run_job do: the slot accounting, the running tasks, the picking
# switch, the functions with their limits, the counters of its health record.
USED = (
    "sem",
    "job_counter",
    "max_jobs",
    "tasks",
    "loop",
    "pool",
    "_pool",
    "queue_name",
    "queue_read_limit",
    "allow_pick_jobs",
    "ctx",
    "functions",
    "max_tries",
    "job_timeout_s",
    "jobs_complete",
    "jobs_failed",
    "jobs_retried",
)


def now_ms() -> int:
    """arq's clock for queue scores."""
    return timestamp_ms()


def lease_key(job_id: str) -> str:
    return in_progress_key_prefix + job_id


def job_key(job_id: str) -> str:
    """Where arq keeps a queued job's record."""
    return job_key_prefix + job_id


def bookkeeping_keys(job_id: str) -> tuple[str, str, str]:
    """The keys arq deletes when a job is finished: its lease, retry counter and record."""
    return lease_key(job_id), retry_key_prefix + job_id, job_key(job_id)


def job_record(function: str, args: tuple[Any, ...], enqueued_ms: int) -> bytes:
    """A job record as arq's enqueue_job writes it, first try, with imagegate's serializer."""
    return serialize_job(function, args, {}, None, enqueued_ms, serializer=job_serializer)


class _Record(msgspec.Struct):
    """A record as arq's serialize_job writes it, its arguments typed: a GenerateJob inside
    (an edit's images with it) decodes straight from the record, its bytes copied once."""

    f: str  # the function
    a: tuple[GenerateJob | str | int | float | bool | None, ...]
    k: dict[str, Any]
    et: int  # enqueued, in ms
    t: int | None = None  # the try arq's enqueue_job left, if any


_read_record = msgspec.msgpack.Decoder(_Record).decode


def read_job_record(record: bytes | memoryview) -> tuple[str, tuple[Any, ...], dict[str, Any], int]:
    """A job record as arq's run_job reads it: function name, args, kwargs, enqueued (ms).
    Raises arq's SerializationError on a record it cannot read."""
    try:
        typed = _read_record(record)
    except msgspec.ValidationError:  # other arguments (a record from before jobs rode inline)
        function, args, kwargs, _, enqueued_ms = deserialize_job_raw(
            cast(bytes, record),  # msgspec's msgpack decoder reads any buffer
            deserializer=job_deserializer,
        )
        return function, tuple(args), kwargs, enqueued_ms
    except msgspec.DecodeError as exc:
        raise DeserializationError(f"unable to deserialize job: {exc}") from exc
    return typed.f, typed.a, typed.k, typed.et


def worker_kwargs(settings_class: type, **overrides: Any) -> dict[str, Any]:
    """Worker's arguments from a WorkerSettings class (arq's own get_kwargs), then `overrides`."""
    return {**get_kwargs(settings_class), **overrides}


def skip_redis_info() -> None:
    """Stop the Worker logging Redis's INFO at start-up (the in-memory fakeredis has none)."""
    arq.worker.log_redis_info = _no_redis_info


async def _no_redis_info(redis: object, log_func: Callable[[str], Any]) -> None:
    return None
