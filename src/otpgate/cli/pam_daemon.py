"""``otpgate pam-daemon``: the local service ``pam_otpgate.so socket=…`` asks instead of
starting ``otpgate pam`` for every login."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from otpgate.cli._errors import EXIT_CONFIG, CliError

__all__ = ["register"]

MAX_WORKERS = 64


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a whole number") from None
    if not 1 <= value <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"expected 1 to {MAX_WORKERS}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a number of seconds") from None
    if not 0.1 <= value <= 60:
        raise argparse.ArgumentTypeError("expected 0.1 to 60 seconds")
    return value


def register(subparsers: Any) -> None:
    daemon = subparsers.add_parser(
        "pam-daemon",
        help="answer pam_otpgate.so over a Unix socket (fast SSH checks)",
        description="Listen on a root-only Unix socket and check the codes pam_otpgate.so "
        "(option socket=) sends, with the same rules as `otpgate pam`. Settings come from "
        "the environment, then --config; restart it after changing them.",
    )
    daemon.add_argument("--socket", type=Path, default=Path("/run/otpgate/pam.sock"),
                        help="socket path (default /run/otpgate/pam.sock)")
    daemon.add_argument("--config", type=Path, help="file of OTPGATE_* settings")
    daemon.add_argument("--map", type=Path, help="file of 'system-user otpgate-user' lines")
    daemon.add_argument("--workers", type=_workers, default=4,
                        help="checks answered at the same time (default 4)")
    daemon.add_argument("--timeout", type=_seconds, default=5.0,
                        help="seconds a client has to send its request (default 5)")
    daemon.add_argument("--metrics-port", type=int, metavar="PORT",
                        help="serve Prometheus metrics (SSH code checks) on 127.0.0.1:PORT "
                        "to a scraper sending OTPGATE_METRICS_TOKEN")
    daemon.set_defaults(handler=_run)


def _log(line: str) -> None:
    # One write per line: lines of concurrent checks never interleave.
    sys.stderr.write(f"otpgate-pam-daemon: {line}\n")
    sys.stderr.flush()


def _warm_up(ctx: Any) -> None:
    """Import the use cases and open a first connection now, not during the first login."""
    from otpgate.service import imports, login, users  # noqa: F401

    try:
        users.count_users(ctx)
    except Exception as exc:  # the daemon still starts; each check fails closed meanwhile
        _log(f"warning: database not reachable yet ({type(exc).__name__}); "
             "checks are refused until it is")


def _start_exporter(ctx: Any, port: int | None) -> Any:
    if port is None:
        return None
    from otpgate.web.metrics import start_exporter

    try:
        exporter = start_exporter(ctx, port)
    except OSError as exc:
        raise CliError(f"--metrics-port {port}: {exc.strerror or exc}", EXIT_CONFIG) from None
    _log(f"metrics on http://127.0.0.1:{port}/metrics")
    return exporter


def _remove_socket(path: Path, inode: int) -> None:
    """Remove our socket file, not one another daemon has put there since."""
    try:
        if os.lstat(path).st_ino == inode:
            path.unlink()
    except FileNotFoundError:
        pass


def _run(args: argparse.Namespace) -> int:
    from otpgate.config import ConfigError, Settings
    from otpgate.pam.daemon import PamDaemon, listen
    from otpgate.pam.errors import DaemonSetupError, FileRefused
    from otpgate.pam.files import read_settings_file, read_user_map
    from otpgate.service.context import build_context

    values = dict(os.environ)
    try:
        if args.config is not None:
            values.update(read_settings_file(args.config))
        if args.map is not None:
            read_user_map(args.map)  # a broken map stops the start, not each login
        settings = Settings.from_env(values)
    except (FileRefused, ConfigError) as exc:
        raise CliError(str(exc), EXIT_CONFIG) from None
    if args.metrics_port is not None and not (
        settings.metrics_token and 0 < args.metrics_port < 65536
    ):
        raise CliError("--metrics-port needs a port (1-65535) and OTPGATE_METRICS_TOKEN",
                       EXIT_CONFIG)
    ctx = build_context(settings)
    try:
        listener = listen(args.socket)
    except DaemonSetupError as exc:
        raise CliError(str(exc), EXIT_CONFIG) from None
    ours = os.stat(args.socket).st_ino
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: stop.set())
    exporter = None
    try:
        exporter = _start_exporter(ctx, args.metrics_port)
        _warm_up(ctx)
        _log(f"listening on {args.socket} with {args.workers} workers")
        PamDaemon(listener, ctx, user_map=args.map, workers=args.workers,
                  read_timeout=args.timeout, log=_log).serve(stop)
    finally:
        if exporter is not None:
            exporter.shutdown()
        listener.close()
        _remove_socket(args.socket, ours)
        ctx.session_factory.kw["bind"].dispose()
    _log("stopped")
    return 0
