"""Everything imagegate takes from arq beyond its documented API, in one place.

The api writes arq's job records itself (api/jobs/admit.py, in one script with its limits), the
worker picks jobs up with its own script (worker/pickup.py, from arq's queue and the webhook
deliveries' own), overrides some of `Worker`'s methods (worker/loop.py: it finishes
deliveries itself) and keeps arq from writing out job arguments, and `imagegate serve`
silences a start-up log line fakeredis cannot
answer (imagegate/embedded.py). tests/common/store/test_arq_compat.py fails when an arq release
changes any of it.
"""

from collections.abc import Callable, Sequence
from typing import Any

import arq.worker
from arq.constants import in_progress_key_prefix, job_key_prefix, retry_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms
from arq.worker import get_kwargs

from common.store.redis import job_serializer

# The prefix of a job's in-progress key: whoever sets it runs the job (imagegate's lease).
LEASE_PREFIX = in_progress_key_prefix

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
# Worker methods and attributes worker/loop.py and imagegate/processes.py use as arq's
# start_jobs does: the slot accounting, the running tasks, the picking switch.
USED = (
    "run_job",
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


def worker_kwargs(settings_class: type, **overrides: Any) -> dict[str, Any]:
    """Worker's arguments from a WorkerSettings class (arq's own get_kwargs), then `overrides`."""
    return {**get_kwargs(settings_class), **overrides}


def quiet_job_arguments() -> None:
    """Stop arq's Worker from building repr() of every job's arguments for its start-up log
    line, which it does at any log level: the payload holds prompts and uploaded images (a 4 MB
    edit cost the worker 30 ms of CPU in that repr alone), and neither belongs in a log."""
    arq.worker.args_to_string = _argument_count


def _argument_count(args: Sequence[Any], kwargs: dict[str, Any]) -> str:
    return f"{len(args) + len(kwargs)} arguments"


def skip_redis_info() -> None:
    """Stop the Worker logging Redis's INFO at start-up (the in-memory fakeredis has none)."""
    arq.worker.log_redis_info = _no_redis_info


async def _no_redis_info(redis: object, log_func: Callable[[str], Any]) -> None:
    return None
