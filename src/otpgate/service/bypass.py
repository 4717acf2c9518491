"""Admin-issued one-time bypass codes: recovery for a user who lost their phone, without
switching their 2FA off.

An administrator checks the person's identity, writes down how (the note, audited, at
least ``MIN_NOTE_LENGTH`` characters) and issues a code valid for
``settings.bypass_code_minutes`` (15 by default). The code has the recovery codes' format
and strength (60 bits), is shown once, stored only as a hash, and works once: a
conditional UPDATE marks it used. Issuing a new one cancels the user's unused ones.

The user types it where recovery codes go. A bypass code is checked before the throttle:
it exists only while an admin has just issued it, and 60 bits over 15 minutes leave
nothing to guess; this way a stranger who locked the account out cannot block it. The
adapters then send the user straight to enrolling a new authenticator
(``SecondFactor.method == "bypass"``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.orm import Session

from otpgate.security.errors import MalformedToken
from otpgate.security.tokens import hash_token, new_recovery_code, normalise_recovery_code
from otpgate.service._actors import load_stepped_up_admin
from otpgate.service._convert import has_active_credential
from otpgate.service._tx import load_active_user, unit_of_work
from otpgate.service.admin import check_identity_note
from otpgate.service.audit import AuditKind, record, replays_audited
from otpgate.service.errors import CodeRejected, NotEnrolled, NotPermitted
from otpgate.service.recovery import check_recovery_code
from otpgate.service.views import BypassIssued, SecondFactor
from otpgate.store import repositories as repo
from otpgate.store.models import BypassCode, User

if TYPE_CHECKING:
    from datetime import datetime

    from otpgate.service.context import Context, Origin

__all__ = ["bypass_valid_until", "issue_bypass_code", "verify_recovery_or_bypass_code"]

_MAX_INPUT = 64


def _hash(canonical: str) -> str:
    # Domain-separated from recovery codes, which share the format.
    return hash_token("bypass:" + canonical)


def issue_bypass_code(
    ctx: Context,
    origin: Origin,
    actor_id: int | None,
    user_id: int,
    note: str,
    *,
    step_up_at: datetime | None = None,
) -> BypassIssued:
    """Issue a one-time bypass code for a user with 2FA on; the plain code, to show once.

    :class:`InvalidInput` for a short note, :class:`NotPermitted` for one's own account
    (ask another admin) or a non-admin actor, :class:`NotEnrolled` when the user has no
    2FA to bypass, :class:`AccountDisabled` for a deactivated account,
    :class:`StepUpRequired` for a portal admin without a fresh full step-up.
    """
    checked_note = check_identity_note(note)
    with unit_of_work(ctx) as session:
        actor = load_stepped_up_admin(session, ctx, origin, actor_id, step_up_at)
        user = load_active_user(session, user_id)
        if actor is not None and actor.id == user.id:
            raise NotPermitted("Ask another administrator for a bypass code of your own.")
        if not has_active_credential(session, user.id):
            raise NotEnrolled("This user has no two-factor login to bypass.")
        now = ctx.now_dt()
        cancelled = _cancel_unused(session, user)
        code = new_recovery_code()
        expires_at = now + timedelta(minutes=ctx.settings.bypass_code_minutes)
        session.add(
            BypassCode(
                user_id=user.id,
                code_hash=_hash(code),
                note=checked_note,
                issued_by=actor.username if actor is not None else origin.user_agent[:150],
                created_at=now,
                expires_at=expires_at,
            )
        )
        record(
            session,
            ctx,
            origin,
            AuditKind.BYPASS_ISSUED,
            actor=actor,
            subject=user,
            detail={
                "note": checked_note,
                "expires_at": expires_at.isoformat(),
                "cancelled": cancelled,
            },
        )
        return BypassIssued(username=user.username, code=code, expires_at=expires_at)


def _cancel_unused(session: Session, user: User) -> int:
    result = cast(
        "CursorResult[Any]",
        session.execute(
            delete(BypassCode)
            .where(BypassCode.user_id == user.id, BypassCode.used_at.is_(None))
            .execution_options(synchronize_session=False)
        ),
    )
    return int(result.rowcount)


def _consume(session: Session, user: User, code: object, now: datetime) -> bool:
    """Mark the user's matching, unexpired, unused bypass code used; True if one was."""
    if not isinstance(code, str) or len(code) > _MAX_INPUT:
        return False
    try:
        code_hash = _hash(normalise_recovery_code(code))
    except MalformedToken:
        return False
    result = cast(
        "CursorResult[Any]",
        session.execute(
            update(BypassCode)
            .where(
                BypassCode.user_id == user.id,
                BypassCode.code_hash == code_hash,
                BypassCode.used_at.is_(None),
                BypassCode.expires_at > now,
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        ),
    )
    return result.rowcount == 1


def verify_recovery_or_bypass_code(
    ctx: Context, origin: Origin, user_id: int, code: str
) -> SecondFactor:
    """The second step with a recovery code or an admin-issued bypass code.

    A valid bypass code is used up and gives ``method="bypass"``: the caller must then
    send the user to enrol a new authenticator. Anything else is checked as a recovery
    code (same errors as :func:`otpgate.service.login.verify_recovery_code`).
    """
    with replays_audited(ctx, origin), unit_of_work(ctx) as session:
        user = load_active_user(session, user_id)
        now = ctx.now_dt()
        if has_active_credential(session, user.id) and _consume(session, user, code, now):
            left = repo.recovery_codes_left(session, user.id)
            record(session, ctx, origin, AuditKind.BYPASS_USED, subject=user)
            return SecondFactor(
                method="bypass", credential_id=None, drift_seconds=None, recovery_codes_left=left
            )
        outcome = check_recovery_code(session, ctx, origin, user, code)
    if isinstance(outcome, CodeRejected):
        raise outcome
    return outcome


def bypass_valid_until(ctx: Context, user_id: int) -> datetime | None:
    """When the user's unused bypass code expires, if one is still valid (admin pages)."""
    with unit_of_work(ctx) as session:
        query = select(BypassCode.expires_at).where(
            BypassCode.user_id == user_id,
            BypassCode.used_at.is_(None),
            BypassCode.expires_at > ctx.now_dt(),
        )
        return session.scalars(query).first()
