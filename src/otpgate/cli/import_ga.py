"""``otpgate import google-authenticator FILE --user U``: migrate a libpam secret file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from otpgate.cli._errors import EXIT_BAD_INPUT, EXIT_NOT_FOUND, CliError

__all__ = ["register"]

_MAX_BYTES = 4096


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("import", help="import authenticators made by other tools")
    formats = parser.add_subparsers(dest="import_format", metavar="FORMAT", required=True)
    ga = formats.add_parser(
        "google-authenticator",
        help="a ~/.google_authenticator file (google-authenticator-libpam)",
        description="Adds the file's secret as an active authenticator of the otpgate user "
        "(TOTP, or HOTP at its counter); its scratch codes become recovery codes.",
    )
    ga.add_argument("file", type=Path, help="the .google_authenticator file")
    ga.add_argument("--user", required=True, help="the otpgate user who owns it")
    ga.add_argument("--name", default="google-authenticator", help="name of the authenticator")
    ga.set_defaults(handler=_import)


def _read(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            raw = handle.read(_MAX_BYTES + 1)
    except OSError as exc:
        raise CliError(f"{path}: {exc.strerror}", EXIT_NOT_FOUND) from None
    if len(raw) > _MAX_BYTES:
        raise CliError(f"{path}: larger than {_MAX_BYTES} bytes", EXIT_BAD_INPUT)
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        raise CliError(f"{path}: not a google-authenticator file (not ASCII)",
                       EXIT_BAD_INPUT) from None


def _import(args: argparse.Namespace) -> int:
    from otpgate.cli._context import operator_context, operator_origin
    from otpgate.service import imports, users

    text = _read(args.file)
    imports.parse_google_authenticator(text)  # refuse a bad file before opening the database
    with operator_context() as ctx:
        user = users.find_user(ctx, args.user)
        result = imports.import_google_authenticator(
            ctx, operator_origin(), user.id, text, name=args.name
        )
    print(
        f"imported a {result.kind.upper()} authenticator '{args.name}' for {user.username} "
        f"(id {result.credential_id}); {result.scratch_codes} scratch codes are now recovery "
        "codes"
    )
    if not result.first_authenticator:
        print("the user's other authenticators and recovery codes are unchanged")
    return 0
