"""Command line: ``main(argv) -> int`` parses, calls one use case, prints.

Each command group lives in its own module with a ``register(subparsers)`` function
that adds its parsers and sets ``handler``. Handlers import heavy modules (database,
web) themselves, so ``otpgate code`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import select
import sys
from collections.abc import Sequence

from otpgate import __version__
from otpgate.cli._errors import CliError, exit_code_for

__all__ = ["main"]

# What a shell reports for a command killed by SIGPIPE (128 + 13), as `ls | head` gives.
EXIT_BROKEN_PIPE = 141

# Order is the order of ``otpgate --help``.
_COMMAND_MODULES = (
    "otpgate.cli.otp_commands",
    "otpgate.cli.users",
    "otpgate.cli.twofactor",
    "otpgate.cli.audit",
    "otpgate.cli.tokens",
    "otpgate.cli.keys",
    "otpgate.cli.groups",
    "otpgate.cli.db",
    "otpgate.cli.serve",
    "otpgate.cli.ssh",
    "otpgate.cli.pam_daemon",
    "otpgate.cli.import_ga",
    "otpgate.cli.mail",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="otpgate",
        description="Two-factor authentication (TOTP/HOTP) for web portals and SSH.",
    )
    parser.add_argument("--version", action="version", version=f"otpgate {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        code = _run(argv)
        sys.stdout.flush()  # a reader gone early is noticed here, not at interpreter exit
    except BrokenPipeError:
        if not _stdout_reader_gone():
            raise  # another pipe or socket broke: a bug to see, not a reader that left
        return _reader_gone()
    return code


def _stdout_reader_gone() -> bool:
    """True if stdout is a pipe whose reader has closed it (poll reports an error)."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # no real file behind stdout
        return False


def _reader_gone() -> int:
    """The reader of stdout went away (``otpgate user list | head -1``): stop quietly.

    Python would otherwise print the error again when it flushes stdout at exit; pointing
    stdout at /dev/null leaves it nothing to complain about.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_BROKEN_PIPE


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        result: int = handler(args)
    except CliError as exc:
        print(f"otpgate: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("otpgate: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the one place that maps lower layers' errors to exit codes
        code = exit_code_for(exc)
        if code is None:
            raise
        print(f"otpgate: error: {exc}", file=sys.stderr)
        return code
    return result
