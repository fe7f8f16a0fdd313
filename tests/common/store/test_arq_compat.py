"""What imagegate takes from arq beyond its documented API still exists, as it is used.

A failure here after an arq upgrade names what changed: fix common/store/arq_compat.py and
the code it lists before anything else."""

import inspect

import arq.worker
import pytest
from arq.jobs import DeserializationError, deserialize_job, serialize_job

from common.schemas import GenerateJob, encode
from common.store import arq_compat
from common.store.redis import job_deserializer
from worker.loop import ImageWorker
from worker.settings import WorkerSettings


@pytest.fixture
def arq_worker():
    async def generate(ctx, payload): ...

    return arq.worker.Worker(functions=[arq.worker.func(generate, name="generate")])


@pytest.mark.parametrize(("name", "parameters"), list(arq_compat.OVERRIDDEN.items()))
def test_the_overridden_methods_keep_their_parameters(name, parameters):
    method = getattr(arq.worker.Worker, name, None)
    assert method is not None, f"arq's Worker has no {name} any more"
    assert tuple(inspect.signature(method).parameters)[1:] == parameters
    assert name in vars(ImageWorker), f"{name} is listed but worker/loop.py no longer overrides it"


@pytest.mark.parametrize("name", arq_compat.USED)
def test_the_members_used_exist(arq_worker, name):
    found = hasattr(arq.worker.Worker, name) or hasattr(arq_worker, name)
    assert found, f"arq's Worker has no {name} any more"


def test_the_pick_up_counts_tries_as_run_job_does():
    """worker/pickup.py counts a job's tries in arq's key for as long as arq's run_job keeps it."""
    source = inspect.getsource(arq.worker.Worker.run_job)
    assert f"pipe.expire(retry_key_prefix + job_id, {arq_compat.RETRY_KEPT_SECONDS})" in source
    assert "pipe.incr(retry_key_prefix + job_id)" in source
    assert "pipe.get(job_key_prefix + job_id)" in source


def test_a_hand_built_record_reads_back_as_arq_reads_it():
    record = arq_compat.job_record("generate", (b"payload",), 1234)
    job = deserialize_job(record, deserializer=job_deserializer)
    assert (job.function, job.args, job.kwargs, job.job_try, job.enqueue_time.timestamp()) == (
        "generate",
        [b"payload"],  # msgpack has no tuples
        {},
        None,
        1.234,
    )


EDIT = GenerateJob(
    id="j1", request_id="r1", model="m", prompt="a cat", original="a cat", images=(b"\x89PNG" * 9,)
)


def test_a_job_rides_in_its_record_and_reads_back_whole():
    """The job is encoded once, inside arq's record; the worker reads it back typed, and arq's
    own reader (job info) still reads the record."""
    record = arq_compat.job_record("generate", (EDIT,), 1234)
    assert record == serialize_job("generate", (EDIT,), {}, None, 1234, serializer=encode)
    assert arq_compat.read_job_record(record) == ("generate", (EDIT,), {}, 1234)
    assert deserialize_job(record, deserializer=job_deserializer).args[0]["images"] == [
        b"\x89PNG" * 9
    ]


def test_a_record_of_an_earlier_release_still_reads():
    """Jobs queued before they rode inline carry their msgpack as bytes; other functions' args
    are plain values."""
    old = serialize_job("generate", (encode(EDIT),), {}, 3, 1, serializer=encode)
    assert arq_compat.read_job_record(old) == ("generate", (encode(EDIT),), {}, 1)
    delivery = arq_compat.job_record("deliver", ("j1", 2), 1)
    assert arq_compat.read_job_record(delivery) == ("deliver", ("j1", 2), {}, 1)
    with pytest.raises(DeserializationError):
        arq_compat.read_job_record(b"\xc1 not msgpack")


def test_the_keys_are_arqs(arq_worker):
    assert arq_compat.bookkeeping_keys("j1") == ("arq:in-progress:j1", "arq:retry:j1", "arq:job:j1")
    assert arq_compat.lease_key("j1") == arq_compat.LEASE_PREFIX + "j1"


def test_the_worker_logs_redis_info_through_the_name_skip_redis_info_replaces():
    assert callable(arq.worker.log_redis_info)
    source = inspect.getsource(arq.worker.Worker.main)
    assert "log_redis_info(" in source, "arq's Worker.main no longer calls log_redis_info"


def test_every_worker_setting_reaches_the_worker():
    """get_kwargs silently drops what Worker does not take: a misspelt setting would vanish."""
    settings = {name for name in vars(WorkerSettings) if not name.startswith("_")}
    assert set(arq_compat.worker_kwargs(WorkerSettings)) == settings
