"""Recovery codes: issued in sets, shown once, stored hashed, each accepted once.

Ten codes of 60 bits by default (Keycloak: 12 of about 61 bits, hashed; libpam and
django-otp keep theirs in clear). A recovery code is checked against the (account,
address) throttle only: when a stranger has locked the account's code scope, its owner
can still get in with one. 60 bits put online guessing out of reach anyway.

Codes are stored as an HMAC under a key derived from the primary secret key, with that
key's id (:func:`~otpgate.security.tokens.keyed_recovery_hash`): a dump alone does not
let anyone test guesses offline. A code is looked up under every key of the ring, so
codes issued before a key rotation keep working while their key stays configured (a
rotation cannot re-hash them: the codes are not known), and under the plain SHA-256 that
versions before keyed hashes stored, until such a code is used or regenerated.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from otpgate.security.errors import MalformedToken
from otpgate.security.tokens import (
    hash_recovery_code,
    keyed_recovery_hash,
    new_recovery_code,
)
from otpgate.service import throttle
from otpgate.service._convert import has_active_credential
from otpgate.service._stepup import require_fresh_step_up
from otpgate.service._tx import load_active_user, unit_of_work
from otpgate.service.audit import AuditKind, record
from otpgate.service.errors import (
    CodeRejected,
    CodeReplayed,
    InvalidInput,
    NotEnrolled,
    RejectReason,
)
from otpgate.service.verification import note_failure
from otpgate.service.views import SecondFactor
from otpgate.store import repositories as repo
from otpgate.store.models import RecoveryCode, User

if TYPE_CHECKING:
    from otpgate.service.context import Context, Origin

__all__ = [
    "check_recovery_code",
    "issue_recovery_codes",
    "recovery_codes_left",
    "regenerate_recovery_codes",
]

_MAX_INPUT = 64


def issue_recovery_codes(session: Session, ctx: Context, user: User) -> list[str]:
    """Replace all the user's recovery codes with a new set; the plain codes, to show once."""
    repo.delete_recovery_codes(session, user.id)
    codes: list[str] = []
    while len(codes) < ctx.settings.recovery_code_count:
        code = new_recovery_code()
        if code not in codes:
            codes.append(code)
    key_id = ctx.keyring.primary_id
    hashes = [keyed_recovery_hash(ctx.keyring, c, key_id=key_id) for c in codes]
    repo.add_recovery_codes(session, user.id, hashes, ctx.now_dt(), key_id=key_id)
    return codes


def _code_hashes(ctx: Context, code: object) -> list[str]:
    """Every form the code may be stored in: keyed under each key, and the legacy hash."""
    if not isinstance(code, str):
        raise InvalidInput("The recovery code must be text.")
    if len(code) > _MAX_INPUT:
        raise CodeRejected(RejectReason.MALFORMED, "This is not a recovery code.")
    try:
        legacy = hash_recovery_code(code)
    except MalformedToken:
        raise CodeRejected(RejectReason.MALFORMED, "This is not a recovery code.") from None
    keyed = [keyed_recovery_hash(ctx.keyring, code, key_id=kid) for kid in ctx.keyring.ids]
    return [*keyed, legacy]


def _was_used(session: Session, user_id: int, code_hashes: list[str]) -> bool:
    query = select(RecoveryCode.id).where(
        RecoveryCode.user_id == user_id,
        RecoveryCode.code_hash.in_(code_hashes),
        RecoveryCode.used_at.is_not(None),
    )
    return session.scalar(query) is not None


def check_recovery_code(
    session: Session, ctx: Context, origin: Origin, user: User, code: object
) -> SecondFactor | CodeRejected:
    """Accept one unused recovery code of ``user`` inside the caller's transaction.

    Like :func:`~otpgate.service.verification.check_code`: returns the success or the
    ``WRONG`` rejection to raise after commit; raises (rolling back) for bad input, a code
    already used (:class:`CodeReplayed`, not counted: it was the user's own; the caller
    audits it with :func:`~otpgate.service.audit.replays_audited`) or a locked pair.
    """
    code_hashes = _code_hashes(ctx, code)
    if not has_active_credential(session, user.id):
        raise NotEnrolled()
    now = ctx.now_dt()
    pair = throttle.begin_attempt(
        session, throttle.pair_scope(user.id, "code", origin.client_addr), throttle.CODE_PAIR, now
    )
    if repo.consume_recovery_code(session, user.id, code_hashes, now):
        throttle.succeed_attempt(session, pair, forget=True)
        left = repo.recovery_codes_left(session, user.id)
        record(session, ctx, origin, AuditKind.RECOVERY_USED, subject=user, detail={"left": left})
        return SecondFactor(
            method="recovery", credential_id=None, drift_seconds=None, recovery_codes_left=left
        )
    if _was_used(session, user.id, code_hashes):
        raise CodeReplayed(
            user.id, user.username, {"method": "recovery"}, "This recovery code was already used."
        )
    note_failure(session, ctx, origin, user, [pair], method="recovery")
    return CodeRejected(RejectReason.WRONG, "This recovery code is not valid.")


def regenerate_recovery_codes(
    ctx: Context, origin: Origin, user_id: int, *, step_up_at: datetime | None
) -> list[str]:
    """A new set of recovery codes (the old ones stop working); needs a fresh step-up."""
    require_fresh_step_up(ctx, step_up_at)
    with unit_of_work(ctx) as session:
        user = load_active_user(session, user_id)
        if not has_active_credential(session, user.id):
            raise NotEnrolled()
        codes = issue_recovery_codes(session, ctx, user)
        record(
            session,
            ctx,
            origin,
            AuditKind.RECOVERY_REGENERATED,
            actor=user,
            subject=user,
            detail={"count": len(codes)},
        )
        return codes


def recovery_codes_left(ctx: Context, user_id: int) -> int:
    """How many unused recovery codes the user has."""
    with unit_of_work(ctx) as session:
        user = load_active_user(session, user_id)
        return repo.recovery_codes_left(session, user.id)
