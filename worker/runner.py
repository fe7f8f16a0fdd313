"""Running a job worker/pickup.py picked up and started, in place of arq's run_job.

arq's run_job starts each job with a MULTI of its own (the record read, the try counted) and
runs it in a second task under wait_for: a round trip and a task per job that the pick-up
script and a timeout scope now save. The rest is arq's, for what imagegate uses of it: an
expired, unreadable or unknown job, or one past its tries, is failed through
finish_failed_job; a cancelled one (a stopping worker) is left queued to run again; any
other ending finishes it through finish_job. WorkerSettings uses none of arq's aborts, job
hooks, kept results or cron jobs (tests/worker/test_runner.py checks)."""

import asyncio
import logging

from arq.jobs import SerializationError
from arq.utils import ms_to_datetime
from arq.worker import Worker

from common.store.arq_compat import read_job_record
from worker.pickup import Picked

log = logging.getLogger("imagegate.worker")


async def run_picked(worker: Worker, job: Picked) -> None:
    if job.record is None:
        log.warning("job %s expired before it could run", job.id)
        return await _failed(worker, job.id)
    try:
        name, args, kwargs, enqueued_ms = read_job_record(job.record)
    except SerializationError:
        log.exception("job %s has a record that cannot be read", job.id)
        return await _failed(worker, job.id)
    function = worker.functions.get(name)
    if function is None:
        log.warning("job %s names a function this worker lacks: %r", job.id, name)
        return await _failed(worker, job.id)
    max_tries = worker.max_tries if function.max_tries is None else function.max_tries
    if job.job_try > max_tries:
        log.warning("job %s failed: more than %d tries", job.id, max_tries)
        return await _failed(worker, job.id)
    ctx = {
        **worker.ctx,
        "job_id": job.id,
        "job_try": job.job_try,
        "enqueue_time": ms_to_datetime(enqueued_ms),
        "score": job.score,
    }
    timeout = worker.job_timeout_s if function.timeout_s is None else function.timeout_s
    finish = True
    try:
        async with asyncio.timeout(timeout):
            await function.coroutine(ctx, *args, **kwargs)
    except asyncio.CancelledError:  # the worker is stopping: the job runs again elsewhere
        log.info("job %s cancelled; it will run again", job.id)
        finish = False
        worker.jobs_retried += 1
    except Exception:
        log.exception("job %s failed", job.id)
        worker.jobs_failed += 1
    else:
        worker.jobs_complete += 1
    await asyncio.shield(worker.finish_job(job.id, finish, None, None, False, None, None))


async def _failed(worker: Worker, job_id: str) -> None:
    worker.jobs_failed += 1
    await asyncio.shield(worker.finish_failed_job(job_id, None))
