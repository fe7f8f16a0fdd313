"""Every Redis key and channel imagegate uses, in one place (arq's own keys start with `arq:`)."""

import hashlib

PREFIX = "imagegate:"

# Job events: a capped stream per job, and one channel announcing every append.
EVENTS_CHANNEL = PREFIX + "events"
# Published after each enqueue so idle workers start the job at once instead of polling.
WAKE_CHANNEL = PREFIX + "wake"
# Sorted set: worker id → time of its last heartbeat; a worker counts as alive for this long.
WORKERS = PREFIX + "workers"
HEARTBEAT_FRESH = 15


def digest(data: bytes | str, length: int = 32) -> str:
    """A sha256 hex digest cut to `length`: keys and client input name Redis keys by it."""
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()[:length]


def job_events(job_id: str) -> str:
    return f"{PREFIX}job:{job_id}:events"


def job_result(job_id: str) -> str:
    """The finished result of a job, so a job that runs twice does not pay the upstream twice."""
    return f"{PREFIX}job:{job_id}:result"


def image(image_id: str) -> str:
    """A hash holding an image's record (IMAGE_STORE=s3; the Redis store's too, in earlier versions)."""
    return f"{PREFIX}image:{image_id}"


def image_record(image_id: str) -> str:
    """The Redis store's record of an image, beside its bytes: two strings, read with one MGET.
    Not one hash: Redis copies a hash field's value where SET keeps the bytes it read (80 µs
    against 2 µs of Redis CPU for a 200 KB image)."""
    return f"{PREFIX}image:{image_id}:record"


def image_bytes(image_id: str) -> str:
    return f"{PREFIX}image:{image_id}:bytes"


def key_cursor(provider: str) -> str:
    """Counter whose value picks the first key to try, so load spreads across keys and workers."""
    return f"{PREFIX}provider:{provider}:cursor"


def key_bench(provider: str, key: str | None) -> str:
    """Present while a key is benched; keys are named by a hash, never stored."""
    return f"{PREFIX}provider:{provider}:bench:{digest(key or '', 16)}"


# Hash: worker id → jobs it is running now (refreshed with its heartbeat).
WORKER_LOAD = PREFIX + "worker-load"


def rate_log(caller: str) -> str:
    """Sorted set of one gateway key's (by hash) requests in the last minute, by time."""
    return f"{PREFIX}rate:{caller}"


def auth_failures(address: str) -> str:
    """Wrong gateway keys from one client address (by hash) in the current minute."""
    return f"{PREFIX}auth-failures:{digest(address)}"


def idempotency(caller: str, key_hash: str) -> str:
    """The job an Idempotency-Key (by hash) of one gateway key (by hash) started."""
    return f"{PREFIX}idempotency:{caller}:{key_hash}"


# Hash of counters the workers add to and the api's /metrics renders (common/store/metrics.py).
METRICS = PREFIX + "metrics"

# Every stored image as `<id>:<bytes>` scored by its expiry, and the running total of their
# bytes: what /metrics reports as cached bytes, without scanning the keyspace.
IMAGE_EXPIRIES = PREFIX + "image-expiries"
# Images still being made, as `<job id>:<bytes reserved>` scored by when the reservation lapses:
# admission adds them to Redis's memory so cache_full answers before Redis refuses a write. The
# total of their bytes is kept beside them (common/store/images.py release_reservation).
IMAGES_IN_FLIGHT = PREFIX + "images-in-flight"
IMAGES_IN_FLIGHT_BYTES = PREFIX + "images-in-flight-bytes"
# Hash: second → bytes of images stored in that second, counted by admission until the api's
# memory sample (once a second) has surely seen them (common/store/images.py STORED_HOLD).
IMAGES_STORED_RECENTLY = PREFIX + "images-stored-recently"
IMAGE_BYTES = PREFIX + "image-bytes"


def background_job(job_id: str) -> str:
    """Hash: a background job's record, what GET /v1/jobs/{id} shows (common/store/jobs.py)."""
    return f"{PREFIX}job:{job_id}:record"


def owner_jobs(owner: str) -> str:
    """Sorted set: the jobs one gateway key (by hash) made, by creation time."""
    return f"{PREFIX}jobs:{owner}"


# Published with a job id when it is cancelled, so the worker running it drops it at once.
CANCEL_CHANNEL = PREFIX + "cancel"

# arq job ids of webhook deliveries start with this: the worker runs them outside its
# generation slots (worker/loop.py).
DELIVERY_PREFIX = "webhook:"
# The deliveries' own queue, in arq's format, which the workers serve beside arq's: the images
# waiting (MAX_QUEUE_DEPTH, a job's queue position) never count retries deferred for a receiver.
WEBHOOK_QUEUE = PREFIX + "webhook-queue"


def webhook_delivery(job_id: str, attempt: int) -> str:
    """The arq job id of one delivery attempt of a job's webhook."""
    return f"{DELIVERY_PREFIX}{job_id}:{attempt}"


# With IMAGE_STORE=s3: every object's key scored by the time its record expires, written before
# the upload (an object whose record never got written is swept too), and the sweeper's lock.
S3_SWEEP = PREFIX + "s3-sweep"
S3_SWEEP_LOCK = PREFIX + "s3-sweep-lock"
