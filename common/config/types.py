"""The frozen settings tree, built once per process from the environment and passed down."""

import msgspec

from common.prompt.size_tables import DEFAULT_TABLE, Size


class ModelSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One image model as clients name it, and what its upstream accepts."""

    name: str
    upstream: str
    table: dict[str, Size] = msgspec.field(default_factory=lambda: dict(DEFAULT_TABLE))
    fixed_sizes: tuple[Size, ...] = ()  # non-empty: only these sizes exist (dall-e-3, gpt-image)
    decides_size: bool = False  # the upstream picks the size itself (Workers AI flux-1-schnell)
    min_side: int = 64
    max_side: int = 4096
    steps: int | None = None
    max_steps: int = 100
    cfg: float | None = None
    seeds: bool = True  # whether the upstream honours a seed
    batch: int = 1  # images one upstream call can return
    prompt_limit: int = 4000
    # The optional fields of ours ("negative_prompt", "steps", "cfg", and the Images API's
    # hints such as "background" or "moderation") the upstream takes for this model; the
    # adapter drops the others instead of forwarding them.
    params: tuple[str, ...] = ()
    edits: bool = False  # the model edits input images (/v1/images/edits, chat image parts)
    edit_images: int = 1  # input images one edit takes
    masks: str = ""  # "" the model takes no mask, "optional", or "required" (inpainting)
    transparent: bool = False  # it makes transparent backgrounds when asked
    formats: tuple[str, ...] = ()  # output formats it encodes itself; the worker re-encodes others
    previews: bool = False  # it shows partial images while it renders (streamed to clients)


class ProviderSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One upstream account: a kind of API, where it is, its keys and the models it serves."""

    name: str
    kind: str
    base_url: str
    keys: tuple[str, ...] = ()
    models: tuple[ModelSpec, ...] = ()
    options: dict[str, str | int | float | bool] = {}
    timeout: float | None = None  # seconds for one call; None: PROVIDER_TIMEOUT


class EnhanceSpec(msgspec.Struct, frozen=True, kw_only=True):
    """The LLM that rewrites ideas into image prompts: an OpenAI-compatible /chat/completions."""

    mode: str  # "plain", or "reasoning": the model thinks first (<think> or reasoning_content)
    base_url: str
    keys: tuple[str, ...] = ()  # tried in turn; none: no Authorization header (a local LLM)
    model: str
    system_prompt: str | None = None  # None: imagegate's own (worker/enhance/prompts.py)
    timeout: float = 10.0


class S3Spec(msgspec.Struct, frozen=True, kw_only=True):
    """The bucket that holds image bytes with IMAGE_STORE=s3 (common/store/s3.py)."""

    bucket: str
    endpoint_url: str | None = None  # None: AWS S3 itself
    region: str | None = None
    access_key_id: str | None = None  # None: the AWS credential chain (env, web identity, IMDS)
    secret_access_key: str | None = None
    prefix: str = "imagegate/"
    presign: bool = False  # /image answers 302 to a presigned URL
    public_base_url: str | None = None  # answers link to <this>/<object key>


class SentinelSpec(msgspec.Struct, frozen=True, kw_only=True):
    """Redis through Sentinel: every connection asks these where the master is."""

    sentinels: tuple[tuple[str, int], ...]
    master: str = "mymaster"
    password: str | None = None  # the sentinels' own
    db: int = 0


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    providers: tuple[ProviderSpec, ...]
    enhance: EnhanceSpec | None = None
    gateway_keys: tuple[str, ...] = ()
    allow_anonymous: bool = False
    redis_url: str | None = None
    redis_password: str | None = None  # the master's and replicas' (filled into REDIS_URL)
    sentinel: SentinelSpec | None = None
    image_expiration: int = 1800  # 0: kept for good (IMAGE_STORE=s3 only)
    s3: S3Spec | None = None  # IMAGE_STORE=s3; None: image bytes live in Redis
    request_timeout: float = 300.0
    provider_timeout: float = 120.0
    connect_timeout: float = 10.0
    retry_on_timeout: bool = False
    default_model: str | None = None
    cors_origins: tuple[str, ...] = ("*",)
    public_base_url: str | None = None
    trust_proxy_headers: bool = False
    enhance_images_api: bool = False  # Images API clients usually send finished prompts
    # What an Images API answer carries when the request names no response_format: both
    # `url` and `b64_json` (clients read one or the other), or only one of them.
    images_response_format: str = "both"
    host: str = "127.0.0.1"
    port: int = 8000
    rate_limit_per_minute: int = 0  # per gateway key; 0: off
    auth_failures_per_minute: int = 60  # wrong keys per client address before 429; 0: off
    header_timeout: float = 10.0  # seconds for a request's headers to arrive
    request_body_timeout: float = 60.0  # seconds for its whole body, from the end of its headers
    max_queue_depth: int = 1000  # jobs waiting to start
    cache_high_water: float = 0.9  # share of Redis maxmemory past which new work is refused
    metrics_key: str | None = None
    job_lease: int = 30  # seconds before a dead worker's job runs elsewhere
    max_upload_bytes: int = 50 * 2**20  # an edit's whole body: its images and fields
    worker_concurrency: int = 500  # jobs one worker process runs at once (they mostly wait on I/O)
    forwarded_allow_ips: str = "127.0.0.1"  # the proxies trusted when trust_proxy_headers is on
    log_level: str = "info"
    log_format: str | None = None  # "text" or "json"; None: text on a terminal, else json
    webhook_secret: str | None = None  # whsec_…: signs webhook deliveries (Standard Webhooks)
    webhook_max_attempts: int = 6
    webhook_allow_hosts: tuple[str, ...] = ()  # hosts allowed although private or loopback
    webhook_backoff_scale: float = 1.0  # tests only: shrinks the retry schedule

    @property
    def records_ttl(self) -> int:
        """Seconds job results, events and idempotency claims are kept: the images' own
        expiry, or a day when images are kept for good (IMAGE_EXPIRATION=0)."""
        return self.image_expiration or 86400

    def find_model(self, name: str) -> tuple[ProviderSpec, ModelSpec] | None:
        for provider in self.providers:
            for model in provider.models:
                if model.name == name:
                    return provider, model
        return None

    def model_names(self) -> list[str]:
        return [model.name for provider in self.providers for model in provider.models]
