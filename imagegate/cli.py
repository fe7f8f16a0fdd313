"""The `imagegate` command: api, worker, serve, check-config."""

import argparse
import asyncio
import os
import sys
from urllib.parse import urlsplit

import uvloop
from msgspec.structs import replace

from common.config.load import ConfigError, load_settings
from common.config.types import Settings
from common.logs import configure


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
    configure(
        os.environ.get("LOG_LEVEL", "INFO")
    )  # read before the settings: their errors are logged
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if getattr(args, "host", None) or getattr(args, "port", None):
        settings = replace(
            settings, host=args.host or settings.host, port=args.port or settings.port
        )
    if args.command == "check-config":
        print(describe(settings))
        return 0
    from imagegate import processes  # imported here: check-config needs neither uvicorn nor arq

    if args.command == "worker" and args.healthcheck:
        return 0 if asyncio.run(processes.worker_is_alive(settings)) else 1
    run = {"api": processes.run_api, "worker": processes.run_worker, "serve": processes.serve}
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
    return f"{table}\n\n{gateway}; default model: {settings.default_model or settings.model_names()[0]}\n{enhancement}"


def _host(url: str) -> str:
    """host[:port] only: a base URL may carry credentials in its user part or query."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname or "-"


if __name__ == "__main__":
    sys.exit(main())
