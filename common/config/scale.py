"""The settings of imagegate past one machine: the image store and Redis through Sentinel."""

from urllib.parse import quote, urlsplit, urlunsplit

from common.config.env import EnvReader
from common.config.types import S3Spec, SentinelSpec

STORES = ("redis", "s3")


def image_store(env: EnvReader, expiration: int) -> S3Spec | None:
    """IMAGE_STORE and the S3_* variables; None keeps the bytes in Redis."""
    store = (env.text("IMAGE_STORE") or "redis").lower()
    if store not in STORES:
        env.problem(f"IMAGE_STORE must be redis or s3, not {store!r}")
        return None
    if store == "redis":
        if expiration == 0:
            env.problem(
                "IMAGE_EXPIRATION=0 (keep images for good) needs IMAGE_STORE=s3: Redis would fill up"
            )
        return None
    bucket = env.text("S3_BUCKET")
    if bucket is None:
        env.problem("IMAGE_STORE=s3 needs S3_BUCKET (the bucket that holds the images)")
    key_id, secret = env.text("S3_ACCESS_KEY_ID"), env.text("S3_SECRET_ACCESS_KEY")
    if (key_id is None) != (secret is None):
        env.problem(
            "S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY go together "
            "(set both, or neither to use the AWS credential chain)"
        )
    prefix = env.text("S3_PREFIX", "imagegate/")
    if prefix.startswith("/"):
        env.problem(f"S3_PREFIX must not start with '/': got {prefix!r}")
    return S3Spec(
        bucket=bucket or "",
        endpoint_url=_http_url(env, "S3_ENDPOINT_URL"),
        region=env.text("S3_REGION"),
        access_key_id=key_id,
        secret_access_key=secret,
        prefix=prefix,
        presign=env.flag("S3_PRESIGN", False),
        public_base_url=_http_url(env, "S3_PUBLIC_BASE_URL"),
    )


def sentinel(env: EnvReader, redis_url: str | None) -> SentinelSpec | None:
    """REDIS_SENTINELS (host:port,…), REDIS_SENTINEL_MASTER and REDIS_SENTINEL_PASSWORD."""
    entries = env.items("REDIS_SENTINELS")
    if not entries:
        return None
    if redis_url is not None:
        env.problem(
            "REDIS_URL and REDIS_SENTINELS are both set: with Sentinel the master's address "
            "comes from the sentinels, so leave REDIS_URL unset"
        )
    sentinels = []
    for entry in entries:
        host, _, port = entry.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            env.problem(f"REDIS_SENTINELS takes host:port items separated by commas: got {entry!r}")
            continue
        sentinels.append((host.strip("[]"), int(port)))
    return SentinelSpec(
        sentinels=tuple(sentinels),
        master=env.text("REDIS_SENTINEL_MASTER", "mymaster"),
        password=env.text("REDIS_SENTINEL_PASSWORD"),
    )


def with_password(url: str | None, password: str | None) -> str | None:
    """`url` with REDIS_PASSWORD filled in when it carries no credentials of its own."""
    if url is None or password is None:
        return url
    parts = urlsplit(url)
    if parts.password is not None or not parts.hostname:
        return url
    user = quote(parts.username or "", safe="")
    netloc = f"{user}:{quote(password, safe='')}@{parts.netloc.rpartition('@')[2]}"
    return urlunsplit(parts._replace(netloc=netloc))


def _http_url(env: EnvReader, name: str) -> str | None:
    value = env.text(name)
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        env.problem(f"{name} must be an http(s) URL: got {value!r}")
        return None
    return value.rstrip("/")
