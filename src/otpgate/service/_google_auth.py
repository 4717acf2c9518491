"""The ``~/.google_authenticator`` file of google-authenticator-libpam, parsed strictly.

Layout: the base32 secret on the first line; option lines starting with ``" ``
(``RATE_LIMIT n secs [timestamps…]``, ``WINDOW_SIZE n``, ``DISALLOW_REUSE [steps…]``,
``TOTP_AUTH``, ``HOTP_COUNTER n``, ``STEP_SIZE secs``); then the 8-digit scratch codes,
one a line. Anything else is refused with the line number, so a damaged or foreign file
never becomes a half-imported credential.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from otpgate.otp.errors import InvalidSecret
from otpgate.otp.secrets import b32decode
from otpgate.service.errors import InvalidInput

__all__ = ["MAX_FILE_BYTES", "GoogleAuthenticatorFile", "parse_google_authenticator"]

MAX_FILE_BYTES = 4096
MAX_SCRATCH_CODES = 10
# google-authenticator-libpam's own limits: 80-bit secrets by default, never below 80.
_MIN_SECRET_BYTES = 10
_SCRATCH = re.compile(r"[0-9]{8}")
_NUMBER = re.compile(r"[0-9]{1,18}")


@dataclass(frozen=True)
class GoogleAuthenticatorFile:
    """What the file says; ``hotp_counter`` is the next counter libpam would accept."""

    secret: bytes = field(repr=False)
    kind: str = "totp"
    period: int = 30
    hotp_counter: int | None = None
    window_size: int | None = None
    rate_limit: tuple[int, int] | None = None
    disallow_reuse: bool = False
    used_steps: tuple[int, ...] = ()
    scratch_codes: tuple[str, ...] = field(default=(), repr=False)


def _bad(line_no: int, what: str) -> InvalidInput:
    return InvalidInput(f"google-authenticator file, line {line_no}: {what}")


def _numbers(words: list[str], line_no: int) -> list[int]:
    if not all(_NUMBER.fullmatch(w) for w in words):
        raise _bad(line_no, "expected whole numbers")
    return [int(w) for w in words]


def _secret(line: str) -> bytes:
    try:
        secret = b32decode(line.strip(), allow_short=True)
    except InvalidSecret:
        raise _bad(1, "the first line is not a base32 secret") from None
    if len(secret) < _MIN_SECRET_BYTES:
        raise _bad(1, "the secret is shorter than 80 bits")
    return secret


def _option(fields: dict[str, object], words: list[str], line_no: int) -> None:
    name, args = words[0], words[1:]
    if name in fields:
        raise _bad(line_no, f"{name} appears twice")
    if name == "TOTP_AUTH" and not args:
        fields[name] = True
    elif name == "DISALLOW_REUSE":
        fields[name] = tuple(_numbers(args, line_no))
    elif name == "RATE_LIMIT" and len(args) >= 2:
        values = _numbers(args, line_no)
        if not (1 <= values[0] <= 100 and 1 <= values[1] <= 3600):
            raise _bad(line_no, "RATE_LIMIT needs 1-100 attempts in 1-3600 seconds")
        fields[name] = (values[0], values[1])
    elif name in {"WINDOW_SIZE", "HOTP_COUNTER", "STEP_SIZE"} and len(args) == 1:
        (value,) = _numbers(args, line_no)
        fields[name] = value
    else:
        raise _bad(line_no, f'unknown or malformed option "{name}"')


def parse_google_authenticator(text: object) -> GoogleAuthenticatorFile:
    """Parse the file's text; :class:`InvalidInput` naming the line for anything unexpected."""
    if not isinstance(text, str):
        raise InvalidInput("The google-authenticator file must be text.")
    if len(text.encode("utf-8", "replace")) > MAX_FILE_BYTES:
        raise InvalidInput(f"google-authenticator file: larger than {MAX_FILE_BYTES} bytes")
    lines = text.splitlines()
    if not lines:
        raise InvalidInput("google-authenticator file: empty")
    secret = _secret(lines[0])
    fields: dict[str, object] = {}
    scratch: list[str] = []
    for line_no, line in enumerate(lines[1:], start=2):
        if line.startswith('" '):
            if scratch:
                raise _bad(line_no, "an option after the scratch codes")
            words = line[2:].split()
            if not words:
                raise _bad(line_no, "an empty option line")
            _option(fields, words, line_no)
        elif _SCRATCH.fullmatch(line.strip()):
            if line.strip() in scratch:
                raise _bad(line_no, "a scratch code appears twice")
            scratch.append(line.strip())
        elif line.strip():
            raise _bad(line_no, "neither an option nor an 8-digit scratch code")
    return _build(secret, fields, scratch)


def _build(secret: bytes, fields: dict[str, object], scratch: list[str]) -> GoogleAuthenticatorFile:
    if len(scratch) > MAX_SCRATCH_CODES:
        raise InvalidInput(
            f"google-authenticator file: more than {MAX_SCRATCH_CODES} scratch codes"
        )
    counter = fields.get("HOTP_COUNTER")
    if counter is not None and "TOTP_AUTH" in fields:
        raise InvalidInput("google-authenticator file: both TOTP_AUTH and HOTP_COUNTER")
    period = fields.get("STEP_SIZE", 30)
    window = fields.get("WINDOW_SIZE")
    assert isinstance(period, int)
    if not 1 <= period <= 300:
        raise InvalidInput("google-authenticator file: STEP_SIZE must be 1 to 300 seconds")
    if window is not None and not (isinstance(window, int) and 1 <= window <= 21):
        raise InvalidInput("google-authenticator file: WINDOW_SIZE must be 1 to 21")
    if isinstance(counter, int) and counter < 1:
        raise InvalidInput("google-authenticator file: HOTP_COUNTER must be at least 1")
    used = fields.get("DISALLOW_REUSE", ())
    rate = fields.get("RATE_LIMIT")
    return GoogleAuthenticatorFile(
        secret=secret,
        kind="totp" if counter is None else "hotp",
        period=period,
        hotp_counter=counter if isinstance(counter, int) else None,
        window_size=window if isinstance(window, int) else None,
        rate_limit=rate if isinstance(rate, tuple) else None,
        disallow_reuse="DISALLOW_REUSE" in fields,
        used_steps=tuple(used) if isinstance(used, tuple) else (),
        scratch_codes=tuple(scratch),
    )
