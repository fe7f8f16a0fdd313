"""Settings from the environment: every problem reported at once, every model name unique."""

import logging
import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from standardwebhooks.webhooks import Webhook

from common.config import scale
from common.config.enhance import enhance_settings
from common.config.env import EnvReader
from common.config.families import PLACEHOLDER, PROVIDER_FAMILIES, check_url
from common.config.file import CONFIG_VARIABLE, ConfigFile
from common.config.types import ProviderSpec, Settings

log = logging.getLogger("imagegate.config")

GATEWAY_KEY_VARIABLES = ("AUTHORIZED_API_KEY", "GATEWAY_API_KEY", "API_KEY")
# The example file's key: a copied .env.example must not open the gateway to anyone who read it.
PLACEHOLDER_KEY = "change-me"
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
LOG_FORMATS = ("text", "json")
# Read before the settings (by the command itself), so look-alikes of them are caught too.
EARLY_VARIABLES = ("IMAGEGATE_ENV_FILE", CONFIG_VARIABLE)


class ConfigError(Exception):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(
            f"imagegate cannot start: the configuration has {len(problems)} problem(s):\n{lines}"
        )


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build the settings from `environ` (default: os.environ) or raise ConfigError listing every problem."""
    environ = os.environ if environ is None else environ
    file = ConfigFile.read(environ.get(CONFIG_VARIABLE))
    # The file's [settings] first, so the environment wins for every single setting.
    env = EnvReader({**file.settings, **environ})
    env.problems.extend(file.problems)
    expiration = env.integer("IMAGE_EXPIRATION", 1800, low=0)
    settings = Settings(
        providers=all_providers(env, file),
        enhance=enhance_settings(env),
        gateway_keys=gateway_keys(env),
        allow_anonymous=env.flag("ALLOW_ANONYMOUS", False),
        redis_url=scale.with_password(redis_url(env), env.text("REDIS_PASSWORD")),
        redis_password=env.text("REDIS_PASSWORD"),
        sentinel=scale.sentinel(env, env.text("REDIS_URL")),
        image_expiration=expiration,
        s3=scale.image_store(env, expiration),
        request_timeout=env.number("REQUEST_TIMEOUT", 300.0, low=1),
        provider_timeout=env.number("PROVIDER_TIMEOUT", 120.0, low=1),
        connect_timeout=env.number("PROVIDER_CONNECT_TIMEOUT", 10.0, low=0.1),
        retry_on_timeout=env.flag("RETRY_ON_TIMEOUT", False),
        default_model=env.text("DEFAULT_MODEL"),
        cors_origins=env.items("CORS_ORIGINS") or ("*",),
        public_base_url=public_base_url(env),
        trust_proxy_headers=env.flag("TRUST_PROXY_HEADERS", False),
        forwarded_allow_ips=env.text("FORWARDED_ALLOW_IPS", "127.0.0.1"),
        enhance_images_api=env.flag("ENHANCE_IMAGES_API", False),
        images_response_format=env.choice("IMAGES_RESPONSE_FORMAT", "both", RESPONSE_FORMATS),
        host=env.text("HOST", "127.0.0.1"),
        port=env.integer("PORT", 8000, low=1, high=65535),
        rate_limit_per_minute=env.integer("RATE_LIMIT_PER_MINUTE", 0, low=0),
        auth_failures_per_minute=env.integer("AUTH_FAILURES_PER_MINUTE", 60, low=0),
        header_timeout=env.number("HEADER_TIMEOUT", 10.0, low=0.1),
        request_body_timeout=env.number("REQUEST_BODY_TIMEOUT", 60.0, low=0.1),
        max_queue_depth=env.integer("MAX_QUEUE_DEPTH", 1000, low=1),
        cache_high_water=env.number("CACHE_HIGH_WATER", 0.9, low=0.05, high=1.0),
        metrics_key=env.text("METRICS_KEY"),
        job_lease=env.integer("JOB_LEASE_SECONDS", 30, low=2, high=600),
        worker_concurrency=env.integer("WORKER_CONCURRENCY", 500, low=1, high=10000),
        max_upload_bytes=env.integer("MAX_UPLOAD_BYTES", 50 * 2**20, low=2**20),
        log_level=env.choice("LOG_LEVEL", "info", LOG_LEVELS),
        log_format=env.choice("LOG_FORMAT", "", LOG_FORMATS) or None,
        webhook_secret=webhook_secret(env),
        webhook_max_attempts=env.integer("WEBHOOK_MAX_ATTEMPTS", 6, low=1, high=20),
        webhook_allow_hosts=tuple(host.lower() for host in env.items("WEBHOOK_ALLOW_HOSTS")),
        webhook_backoff_scale=env.number("WEBHOOK_BACKOFF_SCALE", 1.0, low=0.0001, high=1.0),
    )
    if settings.default_model and not settings.find_model(settings.default_model):
        env.problem(f"DEFAULT_MODEL names {settings.default_model!r}, which no provider serves")
    env.names_asked.update(EARLY_VARIABLES)
    for name, resembled in env.lookalikes():
        log.warning("%s is not a variable imagegate reads: did you mean %s?", name, resembled)
    if env.problems:
        raise ConfigError(env.problems)
    log.info("configuration read from: %s", ", ".join(sorted(env.names_read)) or "(defaults only)")
    return settings


RESPONSE_FORMATS = ("both", "url", "b64_json")


def webhook_secret(env: EnvReader) -> str | None:
    secret = env.text("WEBHOOK_SECRET")
    if secret is not None:
        try:
            if not secret.startswith("whsec_"):
                raise ValueError
            Webhook(secret)
        except Exception:  # the library raises binascii.Error, ValueError…: never quote a secret
            env.bad("WEBHOOK_SECRET", "a whsec_… secret (base64 after the prefix)")
            return None
    return secret


def gateway_keys(env: EnvReader) -> tuple[str, ...]:
    keys = [key for name in GATEWAY_KEY_VARIABLES if (key := env.text(name))]
    keys += env.items("GATEWAY_API_KEYS")
    if PLACEHOLDER_KEY in keys:
        env.problem(
            f"the gateway key is still the example's {PLACEHOLDER_KEY!r}: set GATEWAY_API_KEY"
            " to a secret of your own (e.g. the output of `openssl rand -hex 24`)"
        )
    return tuple(dict.fromkeys(keys))


def redis_url(env: EnvReader) -> str | None:
    """REDIS_URL as redis-py takes it: a redis://, rediss:// or unix:// URL."""
    url = env.text("REDIS_URL")
    if url is None:
        return None
    try:
        parts = urlsplit(url)
        valid = parts.scheme == "unix" or (
            parts.scheme in ("redis", "rediss") and bool(parts.hostname) and parts.port != 0
        )
    except ValueError:  # a port that is not a number
        valid = False
    if not valid:
        env.bad("REDIS_URL", "a URL such as redis://localhost:6379/0")
    return url


def public_base_url(env: EnvReader) -> str | None:
    """The absolute http(s) URL image links start with; a bare host would make them relative."""
    url = (env.text("PUBLIC_BASE_URL") or "").rstrip("/")
    if url:
        check_url(env, "PUBLIC_BASE_URL", url)
    return url or None


def all_providers(env: EnvReader, file: ConfigFile) -> tuple[ProviderSpec, ...]:
    """The environment's families, then the file's providers; the placeholder when there are none."""
    providers = tuple(provider for family in PROVIDER_FAMILIES for provider in family(env))
    providers = (*providers, *file.providers(env)) or (PLACEHOLDER,)
    check_unique_models(env, providers)
    return providers


def check_unique_models(env: EnvReader, providers: tuple[ProviderSpec, ...]) -> None:
    owner: dict[str, str] = {}
    names = [provider.name for provider in providers]
    for name in sorted({name for name in names if names.count(name) > 1}):
        env.problem(f"two providers are named {name!r}: provider names must be unique")
    for provider in providers:
        for model in provider.models:
            if model.name in owner:
                env.problem(
                    f"model {model.name!r} is served by both {owner[model.name]} and {provider.name}"
                )
            owner.setdefault(model.name, provider.name)
