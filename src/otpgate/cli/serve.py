"""``otpgate serve``: run the web portal (pages + JSON API) under uvicorn.

With no configuration it serves an embedded SQLite database in ``OTPGATE_HOME``
(default ``./otpgate-data``), creating the data directory, the key file and the schema,
and it says where each of them is. On an empty database it prints the one-time link that
creates the first administrator.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from otpgate.cli import _observability
from otpgate.cli._errors import EXIT_CONFIG, CliError

if TYPE_CHECKING:
    from otpgate.config import Settings
    from otpgate.service.context import Context

__all__ = ["register"]

log = logging.getLogger("otpgate.serve")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``otpgate serve``."""
    serve = subparsers.add_parser("serve", help="run the web portal and JSON API")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="TCP port (8000)")
    serve.add_argument(
        "--workers", type=int, default=1, help="worker processes, each with its own app (1)"
    )
    serve.add_argument(
        "--access-log",
        action="store_true",
        help="log every request (off by default: a line per request costs the API a few "
        "percent of its throughput, and the audit log already records every check)",
    )
    serve.add_argument(
        "--migrate",
        action="store_true",
        help="upgrade a configured database's schema first (the embedded one always is)",
    )
    serve.add_argument("--certfile", type=Path,
                       help="serve HTTPS with this certificate (PEM, with its chain)")
    serve.add_argument("--keyfile", type=Path, help="the certificate's private key (PEM)")
    _observability.add_arguments(serve)
    serve.set_defaults(handler=_serve)


def _public_url(settings: Settings, host: str, port: int, scheme: str = "http") -> str:
    if settings.base_url:
        return settings.base_url.rstrip("/")
    shown = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(host, host)  # noqa: S104
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"{scheme}://{shown}:{port}"


def _prepare(settings: Settings, migrate: bool) -> Context:
    """A context on a current schema, or a CliError saying what to do."""
    from otpgate.service.context import build_context
    from otpgate.store.schema import current_revision, head_revision
    from otpgate.web.app import REQUEST_THREADS

    ctx = build_context(
        settings, migrate=migrate or not settings.database_url, pool_size=REQUEST_THREADS
    )
    engine = ctx.session_factory.kw["bind"]
    if current_revision(engine) != head_revision():
        raise CliError(
            "the database schema is not current: run `otpgate db upgrade` "
            "(or `otpgate serve --migrate`)",
            EXIT_CONFIG,
        )
    return ctx


def _describe(settings: Settings, ctx: Context, url: str, workers: int) -> None:
    from sqlalchemy.engine import make_url

    db = make_url(settings.effective_database_url).render_as_string(hide_password=True)
    keys = (
        "OTPGATE_SECRET_KEYS"
        if settings.secret_keys
        else f"key file {settings.key_file.resolve()}"
    )
    log.info("otpgate data directory: %s", settings.home.resolve())
    log.info("database: %s", db)
    log.info("secret keys: %s (primary key id %s)", keys, ctx.keyring.primary_id)
    log.info("portal: %s/  (%d worker%s)", url, workers, "" if workers == 1 else "s")
    log.info("JSON API: %s/api/v1  (OpenAPI: %s/openapi.json)", url, url)
    rp = settings.passkeys
    if rp.enabled:
        log.info("passkeys: on (RP ID %s, origin %s)", rp.rp_id, rp.origin)
    else:
        log.info("passkeys: off (%s)", rp.off_reason)


def _print_setup_link(ctx: Context, url: str) -> None:
    from otpgate.service import setup

    token = setup.issue_setup_token(ctx)
    if token is None:
        return
    # On stdout and flushed, so a person or a script starting the server sees it at once.
    print(
        "\nNo account exists yet. Open this one-time link to create the first administrator:\n"
        f"    {url}/setup?token={token}\n"
        "(or run `otpgate user add --admin`)\n",
        flush=True,
    )


def _uvicorn_options(args: argparse.Namespace, log_config: dict[str, Any]) -> dict[str, Any]:
    from otpgate.cli._lifecycle import GRACEFUL_SHUTDOWN_SECONDS
    from otpgate.cli._tls import tls_options

    # loop/http "auto" already pick uvloop and httptools when they are installed.
    # The access lines come from otpgate.access (see otpgate.logs), not uvicorn's.
    return {
        "proxy_headers": False,
        "access_log": False,
        "log_config": log_config,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
        **tls_options(args.certfile, args.keyfile),
    }


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from otpgate.cli._context import read_settings
    from otpgate.cli._lifecycle import background_purge, serve_until_stopped
    from otpgate.web.app import create_app

    if not 0 < args.port < 65536:
        raise CliError("--port must be between 1 and 65535")
    if args.workers < 1:
        raise CliError("--workers must be at least 1")
    settings = read_settings()
    log_config = _observability.prepare(settings, args)
    options = _uvicorn_options(args, log_config)
    ctx = _prepare(settings, args.migrate)
    url = _public_url(settings, args.host, args.port, "https" if "ssl_certfile" in options
                      else "http")
    _describe(settings, ctx, url, args.workers)
    _print_setup_link(ctx, url)
    with background_purge(ctx):
        if args.workers > 1:
            # Each worker process builds its own app (engine, pool) from the same environment.
            uvicorn.run(
                "otpgate.web.app:app_from_env",
                factory=True,
                host=args.host,
                port=args.port,
                workers=args.workers,
                **options,
            )
        else:
            serve_until_stopped(uvicorn.Config(
                create_app(settings, ctx=ctx), host=args.host, port=args.port, **options))
    return 0
