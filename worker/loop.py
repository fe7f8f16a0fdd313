"""arq's Worker, woken by a pub/sub signal instead of a tight poll, leasing jobs for a short,
renewed time, announcing itself with a heartbeat, and riding out Redis outages.

Why a wake-up signal: arq finds jobs by polling. A 1 ms poll starts jobs fast but burns a
sixth of a core while idle; the default 0.5 s costs half a second per job. The api publishes
on `keys.WAKE_CHANNEL` after each enqueue, so an idle worker sleeps (polling every few
seconds only as a safety net) yet starts a new job within a millisecond or two.
"""

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time

from arq.worker import Worker
from redis.asyncio.client import Pipeline
from redis.exceptions import OutOfMemoryError, RedisError

from common.errors import ImagegateError
from common.schemas import Failed
from common.store import keys
from common.store.arq_compat import bookkeeping_keys, lease_key
from common.store.bulk_reader import BulkReader
from common.store.images import counted_bytes
from common.store.jobs import error_json
from common.store.redis import COMMAND_TIMEOUT, reply, subscription, wait_until_reachable
from worker.background import Cancellation
from worker.pickup import Picked, pick_up_due
from worker.runner import run_picked

log = logging.getLogger("imagegate.worker")

HEARTBEAT_EVERY = 5
# Webhook deliveries run beside the generations, never in their slots: a receiver that hangs
# holds one of these (for at most its 10 s timeout), never a generation's.
DELIVERY_SLOTS = 20
# The safety-net poll: deferred retries and wake-ups lost during a Redis outage are found by it.
IDLE_POLL = 2.0


class ImageWorker(Worker):
    """arq's Worker with the overrides common/store/arq_compat.py lists.

    `lease_seconds`: a job whose worker died runs again once its lease lapses (arq alone
    would wait for the whole job timeout); the lease is renewed every third of it.
    `bulk_reads`: large job records are read by a BulkReader of their own (a real Redis only:
    it opens its own sockets where the pool would, so never on an in-process fakeredis)."""

    def __init__(self, *args, lease_seconds: int = 30, bulk_reads: bool = False, **kwargs) -> None:
        super().__init__(*args, poll_delay=0, **kwargs)
        self.lease_seconds = lease_seconds
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._wake = asyncio.Event()
        self._stopping = False
        self._saturated = False  # the last look at the queue left due jobs for want of a slot
        self._settled: set[str] = set()  # jobs whose arq bookkeeping went with their result
        self.ctx["settle"] = self.settle
        # Called by the job once the transaction holding settle's writes has succeeded.
        self.ctx["settled"] = self._settled.add
        self._deliveries = 0  # webhook deliveries running
        self._cancels: dict[str, Cancellation] = self.ctx.setdefault("cancels", {})
        self._last_beat = 0.0
        self._last_renewal = 0.0
        self._redis_down = False
        self._ready = False
        self._bulk_reads = bulk_reads
        self._reader: BulkReader | None = None

    async def main(self) -> None:
        # arq's own start-up would die with a traceback on a Redis that is not up yet.
        await wait_until_reachable(self.pool, "the worker")
        if self._bulk_reads:  # connecting as the pool does: to REDIS_URL, or through Sentinel
            self._reader = BulkReader(self.pool.connection_pool, timeout=COMMAND_TIMEOUT)
        listener = asyncio.create_task(self._listen_for_wakeups())
        try:
            await super().main()
        finally:
            self._stopping = True  # see EventHub.stop: a cancellation alone can be swallowed
            listener.cancel()
            if self._reader is not None:
                await self._reader.close()

    async def _poll_iteration(self) -> None:
        """arq's iteration, with the queue read and the jobs picked by one script; then a
        sleep until the api's signal, a freed slot with jobs waiting, or the safety net."""
        self._wake.clear()  # cleared first: a wake-up during this iteration triggers the next one
        try:
            free = self.max_jobs - self.job_counter
            free_deliveries = DELIVERY_SLOTS - self._deliveries
            if self.allow_pick_jobs and (free > 0 or free_deliveries > 0):
                picked = await pick_up_due(
                    self.pool,
                    self.queue_name,
                    free,
                    self.lease_seconds,
                    self.queue_read_limit,
                    free_deliveries,
                    self._reader,
                )
                self._saturated = picked.saturated
                await self._start(picked.jobs)
            self._reap()
            await self.heart_beat()
        except (RedisError, OSError) as exc:
            self._lost_redis(exc)
            await asyncio.sleep(1)
            return
        self._answering()
        with contextlib.suppress(TimeoutError):
            # Wake at least three times a lease, so leases are renewed in time.
            async with asyncio.timeout(min(IDLE_POLL, self.lease_seconds / 3)):
                await self._wake.wait()

    def _lost_redis(self, exc: Exception) -> None:
        if not self._redis_down:
            state = "full" if isinstance(exc, OutOfMemoryError) else "unavailable"
            log.warning(
                "Redis is %s (%s); the worker retries every second", state, type(exc).__name__
            )
        self._redis_down = True
        # A restarted Redis has lost the heartbeat: send it on the first iteration back.
        self._last_beat = self._last_renewal = 0.0

    def _answering(self) -> None:
        if self._redis_down:
            log.info("Redis answers again; the worker takes jobs")
        elif not self._ready:
            log.info("worker %s ready: up to %d jobs at a time", self.worker_id, self.max_jobs)
        self._redis_down, self._ready = False, True

    async def _start(self, jobs: list[Picked]) -> None:
        """Run picked jobs as arq's start_jobs does, its slot accounting included (never
        waits: at most the free slots were picked)."""
        for job in jobs:
            if job.id.startswith(keys.DELIVERY_PREFIX):
                self._deliveries += 1
                task = self.loop.create_task(run_picked(self, job))
                task.add_done_callback(lambda _: self._delivery_done())
                self.tasks[job.id] = task
                continue
            await self.sem.acquire()
            self.job_counter += 1
            task = self.loop.create_task(run_picked(self, job))
            task.add_done_callback(lambda _: self._release_sem_dec_counter_on_complete())
            self.tasks[job.id] = task

    def _delivery_done(self) -> None:
        self._deliveries -= 1
        if self._saturated:
            self._wake.set()

    def _reap(self) -> None:
        """Forget finished jobs, surfacing an error of arq's own bookkeeping as arq does."""
        for job_id, task in list(self.tasks.items()):
            if task.done():
                del self.tasks[job_id]
                task.result()

    def settle(self, pipe: Pipeline, job_id: str) -> None:
        """Add arq's end-of-job bookkeeping to the job's own final transaction (one round trip
        fewer per job); arq's finish_job then has nothing left to do for it."""
        pipe.delete(*bookkeeping_keys(job_id))
        pipe.zrem(self.queue_name, job_id)

    async def finish_job(self, job_id: str, finish: bool, *args, **kwargs) -> None:
        if job_id.startswith(keys.DELIVERY_PREFIX):
            await self._finish_delivery(job_id, finish)
            return
        if finish and job_id in self._settled:
            self._settled.discard(job_id)
            return
        self._settled.discard(job_id)  # not finished (a retry): arq reschedules it
        await super().finish_job(job_id, finish, *args, **kwargs)

    async def _finish_delivery(self, job_id: str, finish: bool) -> None:
        """arq's finish_job for a webhook delivery, whose queue is not the worker's own
        (keys.WEBHOOK_QUEUE). Unfinished (cut short by a stopping worker), it stays queued.
        A delivery that an older version enqueued in arq's queue runs once and leaves it too."""
        async with self.pool.pipeline(transaction=True) as pipe:
            if finish:
                pipe.delete(*bookkeeping_keys(job_id))
                pipe.zrem(keys.WEBHOOK_QUEUE, job_id)
                pipe.zrem(self.queue_name, job_id)
            else:
                pipe.delete(lease_key(job_id))
            await pipe.execute()

    def _release_sem_dec_counter_on_complete(self) -> None:
        super()._release_sem_dec_counter_on_complete()
        if self._saturated:  # jobs were left waiting for a slot: one is free now
            self._wake.set()

    async def heart_beat(self) -> None:
        await super().heart_beat()
        now = time.time()
        if now - self._last_beat >= HEARTBEAT_EVERY:
            async with self.pool.pipeline(transaction=False) as pipe:
                pipe.zadd(keys.WORKERS, {self.worker_id: now})
                pipe.zremrangebyscore(keys.WORKERS, 0, now - 60)
                # What the api subtracts from the queue to count jobs waiting to start.
                pipe.hset(keys.WORKER_LOAD, self.worker_id, str(self.job_counter))
                await pipe.execute()
            # The expiry index and the cached-bytes total lose expired images here, so neither
            # grows for want of a /metrics scrape.
            await counted_bytes(self.pool)
            self._last_beat = now
        if now - self._last_renewal >= self.lease_seconds / 3:
            await self._renew_leases()
            self._last_renewal = now

    async def _renew_leases(self) -> None:
        running = [job_id for job_id, task in self.tasks.items() if not task.done()]
        if running:
            async with self.pool.pipeline(transaction=False) as pipe:
                for job_id in running:
                    pipe.pexpire(lease_key(job_id), self.lease_seconds * 1000, xx=True)
                await pipe.execute()

    async def _listen_for_wakeups(self) -> None:
        """Wake-ups, and cancellations of the jobs running here (worker/background.py)."""
        cancel_channel = keys.CANCEL_CHANNEL.encode()
        while not self._stopping:
            try:
                async with subscription(
                    self.pool, keys.WAKE_CHANNEL, keys.CANCEL_CHANNEL
                ) as pubsub:
                    # A job enqueued before this subscription took hold woke nobody: look now.
                    self._wake.set()
                    while not self._stopping:
                        message = await pubsub.get_message(
                            ignore_subscribe_messages=True, timeout=1
                        )
                        if message is None:
                            continue
                        if message["channel"] != cancel_channel:
                            self._wake.set()
                        elif cancelled := self._cancels.get(message["data"].decode()):
                            cancelled.set()
            except (RedisError, OSError):
                await asyncio.sleep(1)

    async def finish_failed_job(self, job_id: str, result_data: bytes | None) -> None:
        """arq gave up on the job before it could run (expired, unreadable, too many tries):
        tell whoever waits instead of leaving them to time out."""
        if job_id.startswith(keys.DELIVERY_PREFIX):
            await self._finish_delivery(job_id, finish=True)
            return
        await super().finish_failed_job(job_id, result_data)
        services = self.ctx.get("services")
        if services is not None:
            info = ImagegateError(
                "the job could not be run: it expired in the queue or failed too many times"
            ).info()
            record = await services.jobs.load(job_id)
            if record is None:
                await services.events.append(job_id, Failed(info))
            else:  # ends it unless it already ended (a cancel)
                await services.jobs.end(record.meta, "failed", Failed(info), error=error_json(info))

    async def close(self) -> None:
        with contextlib.suppress(RedisError, OSError):
            if self._pool is not None:
                await self.pool.zrem(keys.WORKERS, self.worker_id)
                await reply(self.pool.hdel(keys.WORKER_LOAD, self.worker_id))
        try:
            await super().close()
        except (RedisError, OSError):  # stopped while Redis is down: arq's close gave up early
            if "services" in self.ctx:
                await self.ctx["services"].http.aclose()
