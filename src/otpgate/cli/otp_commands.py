"""``otpgate code`` and ``otpgate uri``: the OTP core on the command line, like oathtool.

Neither command touches the database or the configuration; they import only
:mod:`otpgate.otp`, so they stay fast and work before anything is set up. Errors of the
core (bad secret, bad URI, out-of-range parameter) become one line and exit code 2.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys
import time
from pathlib import Path

from otpgate.cli._errors import CliError
from otpgate.otp import (
    MIN_SECRET_BYTES,
    Algorithm,
    Hotp,
    OtpUri,
    Totp,
    b32decode,
    build_uri,
    new_secret,
    parse_uri,
    qr_png,
    qr_svg,
    qr_terminal,
)

__all__ = ["register"]

_ALGORITHMS = ("SHA1", "SHA256", "SHA512")
_NUMBER = re.compile(r"[0-9]{1,20}")
_STDIN_HELP = "'-' reads it from standard input (keeps it out of the process list)"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``otpgate code`` and ``otpgate uri``."""
    code = subparsers.add_parser(
        "code", help="print the current TOTP code (or an HOTP code) of a base32 secret",
        description="Print the one-time code of a base32 secret, like oathtool.",
    )
    code.add_argument("secret", metavar="SECRET", help=f"the base32 secret; {_STDIN_HELP}")
    code.add_argument("--hotp", action="store_true", help="HOTP (counter-based) instead of TOTP")
    code.add_argument("--counter", type=_whole_number, help="HOTP counter (with --hotp)")
    code.add_argument("--time", metavar="T",
                      help="Unix seconds or ISO 8601 date-time (UTC unless it has an offset); "
                      "default: now")
    _add_parameters(code)
    code.set_defaults(handler=_code)

    uri = subparsers.add_parser(
        "uri", help="print a new otpauth:// URI (and QR code), or parse one",
        description="Print an otpauth:// URI for a new or given secret, optionally as a QR "
        "code; or, with --parse, print the fields of a URI.",
    )
    uri.add_argument("--issuer", help="service name shown by the app, e.g. 'ACME Co'")
    uri.add_argument("--account", help="account name shown by the app, e.g. alice@example.com")
    uri.add_argument("--secret", help=f"base32 secret (default: a new 160-bit one); {_STDIN_HELP}")
    uri.add_argument("--hotp", action="store_true", help="an HOTP URI instead of TOTP")
    uri.add_argument("--counter", type=_whole_number, help="initial HOTP counter (default 0)")
    _add_parameters(uri)
    uri.add_argument("--qr", metavar="FILE", type=Path,
                     help="also write the QR code to FILE (.svg or .png), readable by you only")
    uri.add_argument("--qr-terminal", action="store_true", help="also draw the QR code here")
    uri.add_argument("--parse", metavar="URI", help=f"print the fields of URI; {_STDIN_HELP}")
    uri.set_defaults(handler=_uri)


def _add_parameters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--algorithm", type=str.upper, choices=_ALGORITHMS,
                        help="HMAC hash (default SHA1)")
    parser.add_argument("--digits", type=_whole_number, help="code length, 6 to 10 (default 6)")
    parser.add_argument("--period", type=_whole_number, help="TOTP step in seconds (default 30)")
    parser.add_argument("--allow-short-secret", action="store_true",
                        help=f"accept a secret under {MIN_SECRET_BYTES * 8} bits (legacy)")


def _code(args: argparse.Namespace) -> int:
    _check_hotp_options(args, need_counter=True)
    if args.hotp and args.time is not None:
        raise CliError("--time is for TOTP; an HOTP code depends on --counter only")
    key = _secret(args.secret, allow_short=args.allow_short_secret)
    algorithm: Algorithm = args.algorithm or "SHA1"
    digits = 6 if args.digits is None else args.digits
    allow = args.allow_short_secret
    if args.hotp:
        print(Hotp(key, digits=digits, algorithm=algorithm, allow_short_key=allow)
              .generate(args.counter))
        return 0
    period = 30 if args.period is None else args.period
    totp = Totp(key, digits=digits, algorithm=algorithm, period=period, allow_short_key=allow)
    print(totp.generate_at(_unix_time(args.time)))
    return 0


def _uri(args: argparse.Namespace) -> int:
    if args.parse is not None:
        return _parse(args)
    if not args.issuer or not args.account:
        raise CliError("uri needs --issuer and --account (or --parse URI)")
    _check_hotp_options(args, need_counter=False)
    if args.secret is None:
        key = new_secret()
    else:
        key = _secret(args.secret, allow_short=args.allow_short_secret)
    text = build_uri(
        key, account=args.account, issuer=args.issuer, kind="hotp" if args.hotp else "totp",
        algorithm=args.algorithm or "SHA1", digits=6 if args.digits is None else args.digits,
        period=30 if args.period is None else args.period,
        counter=(args.counter or 0) if args.hotp else None,
        allow_short_key=args.allow_short_secret,
    )
    if args.qr is not None:  # first, so a failure prints no URI with a secret nobody kept
        _write_qr(args.qr, text)
        print(f"wrote {args.qr} (it contains the secret: keep it private)", file=sys.stderr)
    print(text)
    if args.qr_terminal:
        print(qr_terminal(text), end="")
    return 0


def _parse(args: argparse.Namespace) -> int:
    building = ("issuer", "account", "secret", "counter", "algorithm", "digits", "period", "qr")
    given = [f"--{name}" for name in building if getattr(args, name) is not None]
    given += [flag for flag, on in (("--hotp", args.hotp), ("--qr-terminal", args.qr_terminal))
              if on]
    if given:
        raise CliError(f"--parse cannot be combined with {', '.join(given)}")
    text = _read_stdin("URI") if args.parse == "-" else args.parse
    uri = parse_uri(text, allow_short_key=args.allow_short_secret)
    for name, value in _fields(uri):
        print(f"{name + ':':<11}{value}")
    return 0


def _fields(uri: OtpUri) -> list[tuple[str, str]]:
    fields = [("type", uri.kind), ("issuer", uri.issuer or "-"), ("account", uri.account),
              ("secret", uri.secret_b32), ("algorithm", uri.algorithm),
              ("digits", str(uri.digits))]
    if uri.kind == "totp":
        fields.append(("period", str(uri.period)))
    else:
        fields.append(("counter", str(uri.counter)))
    if uri.image is not None:
        fields.append(("image", uri.image))
    return fields


def _check_hotp_options(args: argparse.Namespace, *, need_counter: bool) -> None:
    if args.hotp:
        if need_counter and args.counter is None:
            raise CliError("--hotp needs --counter N")
        if args.period is not None:
            raise CliError("--period is for TOTP; HOTP has no time step")
    elif args.counter is not None:
        raise CliError("--counter is for HOTP: add --hotp")


def _secret(text: str, *, allow_short: bool) -> bytes:
    if text == "-":
        text = _read_stdin("secret")
    key = b32decode(text, allow_short=True)
    if len(key) < MIN_SECRET_BYTES and not allow_short:
        raise CliError(
            f"the secret has {len(key) * 8} bits; at least {MIN_SECRET_BYTES * 8} are required "
            "(--allow-short-secret accepts a legacy short secret)"
        )
    return key


def _read_stdin(what: str) -> str:
    line = sys.stdin.readline().strip()
    if not line:
        raise CliError(f"no {what} on standard input")
    return line


def _unix_time(text: str | None) -> float:
    if text is None:
        return time.time()  # the CLI is the edge: the clock is read here, not in the core
    try:
        return float(text) if re.fullmatch(r"[0-9]+(\.[0-9]+)?", text) else _iso_time(text)
    except ValueError:
        raise CliError(
            f"--time {text!r} is neither Unix seconds nor an ISO 8601 date-time"
        ) from None


def _iso_time(text: str) -> float:
    when = dt.datetime.fromisoformat(text)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


def _whole_number(text: str) -> int:
    """argparse type: ASCII digits only (int() would also take '٣' or '+3')."""
    if _NUMBER.fullmatch(text) is None:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}")
    return int(text)


def _write_qr(path: Path, text: str) -> None:
    suffix = path.suffix.lower()
    if suffix == ".svg":
        data = qr_svg(text).encode("utf-8")
    elif suffix == ".png":
        data = qr_png(text)
    else:
        raise CliError(f"--qr {path}: the file name must end in .svg or .png")
    try:
        # 0600: the QR code is the secret. fchmod also tightens a file that existed.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(data)
    except OSError as exc:
        raise CliError(f"--qr {path}: {exc.strerror or exc}") from None
