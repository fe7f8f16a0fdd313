"""The `imagegate` command: api, worker, serve, check-config."""

import argparse
import asyncio
import logging
import os
import sys
from typing import NoReturn
from urllib.parse import urlsplit

import uvloop
from msgspec.structs import replace

from common.config.dotenv import apply_env_file
from common.config.load import LOG_FORMATS, LOG_LEVELS, ConfigError, load_settings
from common.config.types import Settings
from common.logs import configure
from imagegate.heap import freeze_startup_objects, keep_freed_memory


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imagegate",
        description="OpenAI-compatible gateway that turns chat requests into images",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("api", "run the HTTP api"),
        ("serve", "run the api and a worker in one process"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("--host", help="address to listen on (default: HOST or 127.0.0.1)")
        command.add_argument("--port", type=int, help="port to listen on (default: PORT or 8000)")
    worker = commands.add_parser("worker", help="run a worker that makes the images")
    worker.add_argument(
        "--healthcheck",
        action="store_true",
        help="exit 0 if a worker of this host has a fresh heartbeat",
    )
    commands.add_parser(
        "check-config", help="print the providers and models, exit non-zero on problems"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    env_file_problems = apply_env_file()
    # Logs first, so the settings' own lines are logged; a bad LOG_LEVEL is one of the
    # problems the settings report, so this start-up guess falls back to info.
    level = os.environ.get("LOG_LEVEL", "").strip().lower()
    log_format = os.environ.get("LOG_FORMAT", "").strip().lower()
    configure(
        level if level in LOG_LEVELS else "info", log_format if log_format in LOG_FORMATS else None
    )
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(ConfigError(env_file_problems + exc.problems), file=sys.stderr)
        return 2
    if env_file_problems:
        print(ConfigError(env_file_problems), file=sys.stderr)
        return 2
    configure(settings.log_level, settings.log_format)
    if getattr(args, "host", None) or getattr(args, "port", None):
        settings = replace(
            settings, host=args.host or settings.host, port=args.port or settings.port
        )
    if settings.s3 is not None:
        return _leave(_with_bucket(args, settings))
    return _command(args, settings)


def _with_bucket(args: argparse.Namespace, settings: Settings) -> int:
    if problems := _bucket_problems(settings):
        print(ConfigError(problems), file=sys.stderr)
        return 2
    return _command(args, settings)


def _leave(code: int) -> NoReturn:
    """Exit without the interpreter's finalisation once obstore has run: its Rust runtime's
    threads, still alive then, can abort the process (SIGABRT) while Python tears down."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _command(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "check-config":
        print(describe(settings))
        return 0
    from imagegate import processes  # imported here: check-config needs neither uvicorn nor arq

    if args.command == "worker" and args.healthcheck:
        return 0 if asyncio.run(processes.worker_is_alive(settings)) else 1
    run = {"api": processes.run_api, "worker": processes.run_worker, "serve": processes.serve}
    keep_freed_memory()
    freeze_startup_objects()
    try:
        return uvloop.run(run[args.command](settings))
    except processes.CannotListen as exc:
        print(exc, file=sys.stderr)
        return 1


def describe(settings: Settings) -> str:
    """The providers and models table: names, kinds, hosts and key counts, never a key."""
    rows = [("provider", "kind", "base host", "keys", "model", "upstream id")]
    for provider in settings.providers:
        host = _host(provider.base_url)
        for model in provider.models:
            rows.append(
                (
                    provider.name,
                    provider.kind,
                    host,
                    str(len(provider.keys)),
                    model.name,
                    model.upstream,
                )
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    table = "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)).rstrip()
        for row in rows
    )
    gateway = (
        f"{len(settings.gateway_keys)} gateway key(s)"
        if settings.gateway_keys
        else "no gateway key"
    )
    spec = settings.enhance
    enhancement = (
        f"enhancement: {spec.model} ({spec.mode}) at {_host(spec.base_url)}, {len(spec.keys)} key(s)"
        if spec
        else "enhancement: off"
    )
    return (
        f"{table}\n\n{gateway}; default model: "
        f"{settings.default_model or settings.model_names()[0]}\n{enhancement}\n"
        f"{describe_store(settings)}\n{describe_redis(settings)}"
    )


def _bucket_problems(settings: Settings) -> list[str]:
    """A bucket that is missing or refuses the credentials stops every command at start."""
    from common.store.s3 import check_bucket  # imported here: obstore loads only when used

    return asyncio.run(check_bucket(settings.s3)) if settings.s3 else []


def describe_store(settings: Settings) -> str:
    """Where image bytes go: the bucket and its endpoint's host, never the credentials."""
    spec = settings.s3
    kept = f"{settings.image_expiration} s" if settings.image_expiration else "for good"
    if spec is None:
        return f"image store: redis (images kept {kept})"
    where = _host(spec.endpoint_url) if spec.endpoint_url else f"AWS S3 {spec.region or ''}"
    serving = "streamed through /image"
    if spec.presign:
        serving = "/image redirects to presigned URLs"
    if spec.public_base_url:
        serving = f"answers link to {_host(spec.public_base_url)}"
    return (
        f"image store: s3 bucket {spec.bucket!r} at {where.strip()}, prefix {spec.prefix!r}, "
        f"images kept {kept}, {serving}"
    )


def describe_redis(settings: Settings) -> str:
    if settings.sentinel is not None:
        names = ", ".join(f"{host}:{port}" for host, port in settings.sentinel.sentinels)
        return f"redis: master {settings.sentinel.master!r} through sentinels {names}"
    url = settings.redis_url
    if url and url.startswith("unix:"):
        return f"redis: unix socket {urlsplit(url).path}"
    return f"redis: {_host(url) if url else 'default'}"


def _host(url: str) -> str:
    """host[:port] only: a base URL may carry credentials in its user part or query."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname or "-"


if __name__ == "__main__":
    sys.exit(main())
