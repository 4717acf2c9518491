"""The one code check shared by the web pages, the API, the command line and SSH.

Order of the checks, and why:

1. The code must be text (:class:`InvalidInput` otherwise) in the format of at least one
   of the user's authenticators (``"123 456"`` is fine; letters, other lengths and
   non-ASCII digits are :class:`CodeRejected` ``MALFORMED``). A malformed code is refused
   before any HMAC and *does not count* as a failure: it tests no candidate code, so it
   gives an attacker nothing, and refusing bad input leaves the database unchanged.
2. Under the account's row lock, the throttle counters of the account and of (account,
   client address) are read; a locked scope refuses even a correct code (:class:`Locked`).
   A failure is counted in both (step 5); a success writes them only to forget the
   address's earlier failures.
3. Every active authenticator is tried: TOTP within ±``otp_window`` steps, HOTP from the
   next counter with ``hotp_look_ahead`` more, then the last :data:`HOTP_LOOK_BEHIND`
   accepted counters (so that a code sent twice is known as the user's own).
4. A match on a step at or below the last accepted one, or a lost race on the conditional
   UPDATE, is ``REPLAYED`` (:class:`CodeReplayed`): refused without counting (the code was
   the user's own, it teaches nothing; three double-submits must not lock the user out),
   the check's transaction rolls back, and a ``login.code_replayed`` audit row is written
   in a transaction of its own.
5. A success records the step, the drift and the use; a failure keeps the count, may lock,
   and is audited.

The steps run in :mod:`otpgate.service._code_check` (on SQLAlchemy Core, because login
checks are the busiest path); this module holds the pieces they are made of.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, cast

from sqlalchemy.orm import Session

from otpgate.otp import Algorithm
from otpgate.otp.codes import normalise_code
from otpgate.otp.errors import MalformedCode, OtpError
from otpgate.otp.hotp import Hotp
from otpgate.otp.totp import Totp
from otpgate.security.errors import DecryptionFailed
from otpgate.service import telemetry, throttle
from otpgate.service.audit import AuditKind, record
from otpgate.service.errors import (
    CodeRejected,
    InvalidInput,
    KeyUnavailable,
    RejectReason,
)
from otpgate.store.models import OtpCredential, User
from otpgate.store.repositories import CheckedCredential

if TYPE_CHECKING:
    from otpgate.service.context import Context, Origin

__all__ = [
    "DRIFT_WEIGHT",
    "HOTP_LOOK_BEHIND",
    "code_text",
    "failure_detail",
    "lock_detail",
    "match_step",
    "new_drift",
    "note_failure",
    "open_secret",
    "secret_context",
    "well_formed",
]

# Weight of the newest observation in the drift's moving average: half, so a phone whose
# clock was fixed stops being reported after a couple of logins.
DRIFT_WEIGHT = 0.5
# How many accepted HOTP counters, the last one included, a code is compared with to tell
# a replay from a wrong code. Bounded, like the TOTP window, so a wrong code costs a fixed
# number of HMACs; a stranger's random code matches one of them with odds 10/10^6 and is
# then merely not counted.
HOTP_LOOK_BEHIND = 10
_MAX_CODE_TEXT = 64


def secret_context(user_id: int) -> bytes:
    """Associated data sealed with a credential's secret: it cannot be moved to another user."""
    return b"otp-credential:%d" % user_id


def open_secret(ctx: Context, cred: OtpCredential | CheckedCredential) -> bytes:
    """The raw secret of a credential; :class:`KeyUnavailable` if no configured key opens it."""
    try:
        context = secret_context(cred.user_id)
        return ctx.keyring.open(cred.key_id, cred.secret_sealed, context=context)
    except DecryptionFailed:
        raise KeyUnavailable() from None


def code_text(code: object) -> str:
    """The code as given, if it is text of a sane length; else refuse it."""
    if not isinstance(code, str):
        raise InvalidInput("The code must be text.")
    if len(code) > _MAX_CODE_TEXT:
        raise CodeRejected(RejectReason.MALFORMED)
    return code


def well_formed(code: str, digits: int) -> bool:
    """True if ``code`` has the format of a ``digits``-digit code."""
    try:
        normalise_code(code, digits)
    except (MalformedCode, OtpError):
        return False
    return True


def match_step(
    ctx: Context, cred: OtpCredential | CheckedCredential, secret: bytes, code: str, now: float
) -> tuple[int, float] | None:
    """The step (TOTP) or counter (HOTP) whose code this is, and its offset in seconds.

    TOTP tries every step of the window, old ones too, so that the caller can tell a
    replay from a wrong code; HOTP tries the counters after the last accepted one, then
    the last :data:`HOTP_LOOK_BEHIND` accepted ones (a match there is a replay).
    """
    algorithm = cast(Algorithm, cred.algorithm)
    # Secret lengths are checked when a credential is created; imported google-authenticator
    # secrets may be 80-bit (that tool's default), so stored ones are not checked again.
    if cred.kind == "hotp":
        hotp = Hotp(secret, digits=cred.digits, algorithm=algorithm, allow_short_key=True)
        counter = hotp.match(code, cred.last_step + 1, look_ahead=ctx.settings.hotp_look_ahead)
        if counter is None and cred.last_step >= 0:
            first = max(0, cred.last_step - HOTP_LOOK_BEHIND + 1)
            counter = hotp.match(code, first, look_ahead=cred.last_step - first)
        return None if counter is None else (counter, 0.0)
    totp = Totp(
        secret, digits=cred.digits, algorithm=algorithm, period=cred.period, allow_short_key=True
    )
    window = ctx.settings.otp_window
    step = totp.match(code, now, behind=window, ahead=window)
    if step is None:
        return None
    return step, float((step - totp.step(now)) * cred.period)


def new_drift(cred: OtpCredential | CheckedCredential, offset: float) -> float:
    """The drift after a TOTP match ``offset`` seconds off: a moving average."""
    return (1 - DRIFT_WEIGHT) * cred.drift_seconds + DRIFT_WEIGHT * offset


def failure_detail(method: str, purpose: str, failures: int) -> dict[str, object]:
    """What a ``login.code_failed`` row says (the highest count of the scopes)."""
    return {"method": method, "purpose": purpose, "failures": failures}


def lock_detail(scope: str, method: str, failures: int, until: datetime) -> dict[str, object]:
    """What a ``login.locked`` row says about the scope that was just locked."""
    return {
        "scope": "address" if scope.count("|") > 1 else "account",
        "step": method,
        "failures": failures,
        "until": until.isoformat(),
    }


def note_failure(
    session: Session,
    ctx: Context,
    origin: Origin,
    user: User,
    attempts: list[throttle.Attempt],
    *,
    method: str,
    purpose: str = "login",
) -> None:
    """Keep the counted failures, lock where the policy says so, and audit both."""
    now_dt = ctx.now_dt()
    failures = max(a.failures for a in attempts)
    detail = failure_detail(method, purpose, failures)
    record(session, ctx, origin, AuditKind.LOGIN_CODE_FAILED, subject=user, detail=detail)
    for attempt in attempts:
        until = throttle.fail_attempt(session, attempt, now_dt)
        if until is not None:
            detail = lock_detail(attempt.scope, method, attempt.failures, until)
            telemetry.locked_out(method, str(detail["scope"]))
            record(session, ctx, origin, AuditKind.LOGIN_LOCKED, subject=user, detail=detail)
