"""Importing authenticators made elsewhere: google-authenticator-libpam files.

A ``~/.google_authenticator`` file becomes an *active* credential of the user (TOTP, or
HOTP at the file's counter), so the phone that already holds the secret keeps working,
for SSH and for the portal. What the file's options become:

* ``DISALLOW_REUSE`` steps and ``HOTP_COUNTER``: the credential's last accepted step, so
  a code already used under libpam is not accepted again.
* ``STEP_SIZE``: the credential's period.
* ``WINDOW_SIZE`` and ``RATE_LIMIT``: noted in the audit row only. otpgate applies its own
  window (``otp_window``) and throttle to every credential; libpam's default window of 3
  codes is the same ±1 step.
* Scratch codes become recovery codes of the user, each usable once. They are only 8
  digits (26.6 bits), so unlike otpgate's own recovery codes they are stored as argon2
  hashes (a database dump does not give them away cheaply) and their failures count on
  the *account's* code throttle too. Regenerate recovery codes after the import to
  replace them with 60-bit ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from otpgate.otp.codes import normalise_code
from otpgate.otp.errors import OtpError
from otpgate.security.errors import PasswordMismatch
from otpgate.service import throttle
from otpgate.service._convert import has_active_credential
from otpgate.service._google_auth import GoogleAuthenticatorFile, parse_google_authenticator
from otpgate.service._text import name_text
from otpgate.service._tx import load_active_user, unit_of_work
from otpgate.service.audit import AuditKind, record, replays_audited
from otpgate.service.authenticators import MAX_NAME
from otpgate.service.enrolment import DEFAULT_NAME
from otpgate.service.errors import (
    CodeRejected,
    CodeReplayed,
    InvalidInput,
    NotEnrolled,
    RejectReason,
)
from otpgate.service.verification import note_failure, secret_context
from otpgate.service.views import SecondFactor
from otpgate.store import repositories as repo
from otpgate.store.models import RecoveryCode, User

if TYPE_CHECKING:
    from otpgate.service.context import Context, Origin

__all__ = [
    "ImportResult",
    "import_google_authenticator",
    "is_scratch_code",
    "parse_google_authenticator",
    "verify_scratch_code",
]

IMPORT_NAME = "google-authenticator"
_SCRATCH_DIGITS = 8
# argon2 hashes start with "$"; otpgate's own recovery codes are stored as hex digests.
_ARGON2_PREFIX = "$argon2"


@dataclass(frozen=True)
class ImportResult:
    """What an import created: the credential, its kind, and how many scratch codes."""

    credential_id: int
    kind: str
    scratch_codes: int
    first_authenticator: bool


def _scratch_digits(text: object) -> str | None:
    """The 8 ASCII digits of a scratch code, spaces removed as in a TOTP code; else None."""
    try:
        return normalise_code(text, _SCRATCH_DIGITS).decode("ascii")
    except OtpError:
        return None


def is_scratch_code(text: object) -> bool:
    """True for the shape of a google-authenticator scratch code: 8 ASCII digits, spaces
    allowed anywhere (``"1234 5678"``), as in a TOTP code."""
    return _scratch_digits(text) is not None


def _last_step(parsed: GoogleAuthenticatorFile) -> int:
    if parsed.hotp_counter is not None:
        return parsed.hotp_counter - 1  # libpam keeps the *next* counter to accept
    return max(parsed.used_steps, default=-1)


def import_google_authenticator(
    ctx: Context, origin: Origin, user_id: int, text: str, *, name: str = IMPORT_NAME
) -> ImportResult:
    """Add the file's secret as an active authenticator of the user, with its scratch codes.

    :class:`InvalidInput` (naming the line) for a malformed file; nothing is written then.
    The user's existing authenticators and recovery codes are kept.
    """
    parsed = parse_google_authenticator(text)
    label = name_text(name, "authenticator name", MAX_NAME) or DEFAULT_NAME
    with unit_of_work(ctx) as session:
        user = load_active_user(session, user_id)
        now = ctx.now_dt()
        first = not has_active_credential(session, user.id)
        key_id, sealed = ctx.keyring.seal(parsed.secret, context=secret_context(user.id))
        cred = repo.add_credential(
            session,
            user_id=user.id,
            kind=parsed.kind,
            status="active",
            secret_sealed=sealed,
            key_id=key_id,
            created_at=now,
            confirmed_at=now,
            name=label,
            algorithm="SHA1",
            digits=6,
            period=parsed.period,
            last_step=_last_step(parsed),
        )
        hashes = [ctx.hasher.hash(code) for code in parsed.scratch_codes]
        repo.add_recovery_codes(session, user.id, hashes, now)
        record(
            session,
            ctx,
            origin,
            AuditKind.TWOFA_ENABLED if first else AuditKind.AUTHENTICATOR_ADDED,
            subject=user,
            detail={
                "via": "import",
                "format": "google-authenticator",
                "credential_id": cred.id,
                "name": label,
                "kind": parsed.kind,
                "period": parsed.period,
                "scratch_codes": len(hashes),
                "window_size": parsed.window_size,
                "rate_limit": list(parsed.rate_limit) if parsed.rate_limit else None,
                "disallow_reuse": parsed.disallow_reuse,
                "short_secret": len(parsed.secret) < 16,
            },
        )
        return ImportResult(cred.id, parsed.kind, len(hashes), first)


def _matching_scratch(
    session: Session, ctx: Context, user: User, code: str
) -> tuple[str, bool] | None:
    """The stored hash of the user's scratch code equal to ``code``, and whether it was
    used already; None if no scratch code of the user is ``code``.

    Used codes are compared too, so that a code typed twice is known as the user's own
    (a replay) rather than a wrong guess; there are at most ten of them.
    """
    stored = session.execute(
        select(RecoveryCode.code_hash, RecoveryCode.used_at).where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash.startswith(_ARGON2_PREFIX),
        )
    ).all()
    for code_hash, used_at in stored:
        try:
            ctx.hasher.verify(code_hash, code)
        except PasswordMismatch:
            continue
        return code_hash, used_at is not None
    return None


def verify_scratch_code(ctx: Context, origin: Origin, user_id: int, code: str) -> SecondFactor:
    """The second step with an imported scratch code, which is used up.

    Throttled on the account *and* (account, address) code scopes, like a TOTP code:
    8 digits are too few to leave to the per-address brake alone. A code already used is
    :class:`CodeReplayed` (not counted, audited as ``login.code_replayed``), as a used
    recovery code is.
    """
    if not isinstance(code, str):
        raise InvalidInput("The scratch code must be text.")
    digits = _scratch_digits(code)
    if digits is None:
        raise CodeRejected(RejectReason.MALFORMED, "A scratch code has 8 digits.")
    with replays_audited(ctx, origin), unit_of_work(ctx) as session:
        user = load_active_user(session, user_id)
        if not has_active_credential(session, user.id):
            raise NotEnrolled()
        now = ctx.now_dt()
        attempts = [
            throttle.begin_attempt(
                session, throttle.account_scope(user.id, "code"), throttle.CODE_ACCOUNT, now
            ),
            throttle.begin_attempt(
                session,
                throttle.pair_scope(user.id, "code", origin.client_addr),
                throttle.CODE_PAIR,
                now,
            ),
        ]
        found = _matching_scratch(session, ctx, user, digits)
        if found is not None:
            code_hash, used = found
            if used or not repo.consume_recovery_code(session, user.id, code_hash, now):
                # Raised, so the counts taken above roll back: the code was the user's own.
                raise CodeReplayed(
                    user.id, user.username, {"method": "scratch"},
                    "This scratch code was already used.",
                )
            throttle.succeed_attempt(session, attempts[0], forget=False)
            throttle.succeed_attempt(session, attempts[1], forget=True)
            left = repo.recovery_codes_left(session, user.id)
            record(
                session, ctx, origin, AuditKind.RECOVERY_USED, subject=user,
                detail={"left": left, "kind": "scratch"},
            )
            return SecondFactor(
                method="recovery", credential_id=None, drift_seconds=None, recovery_codes_left=left
            )
        note_failure(session, ctx, origin, user, attempts, method="scratch")
        failure = CodeRejected(RejectReason.WRONG, "This scratch code is not valid.")
    raise failure
