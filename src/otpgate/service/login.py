"""Logging in: the password step, then one second factor (code, recovery code or device).

Every function here is one transaction. A refused attempt that must stay counted (wrong
password, wrong code) is committed first and raised after; a refusal that proves nothing
(bad input, a replay, a lock) rolls back and leaves the database as it was.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy.orm import Session

from otpgate.service._code_check import check_login_code
from otpgate.service._convert import has_active_credential, user_view
from otpgate.service._password import check_password_of, password_text, username_text
from otpgate.service._tx import check_id, load_active_user, unit_of_work
from otpgate.service.admin import read_policy, requires_2fa
from otpgate.service.audit import AuditKind, record, replays_audited
from otpgate.service.devices import find_valid_device, trust_new_device
from otpgate.service.errors import AccountDisabled, AuthenticationFailed, ServiceError
from otpgate.service.recovery import check_recovery_code
from otpgate.service.users import normalise_username
from otpgate.service.views import PasswordStep, SecondFactor
from otpgate.store import repositories as repo
from otpgate.store.models import User

if TYPE_CHECKING:
    from otpgate.service.context import Context, Origin

__all__ = [
    "check_password",
    "check_trusted_device",
    "trust_device",
    "verify_code",
    "verify_code_by_name",
    "verify_recovery_code",
    "verify_step_up",
]

_T = TypeVar("_T")


def _settle(outcome: _T | ServiceError) -> _T:
    """Raise a refusal whose failure count was just committed, or return the success."""
    if isinstance(outcome, ServiceError):
        raise outcome
    return outcome


def check_password(ctx: Context, origin: Origin, username: str, password: str) -> PasswordStep:
    """The first step: is this the account's password, and what must come next?

    Raises :class:`AuthenticationFailed` for a wrong password or an unknown name (one
    message, one cost), :class:`AccountDisabled` for a deactivated account (only once the
    password is right), :class:`Locked` while the password step is throttled.
    ``must_enrol`` is set when the policy requires 2FA of this user and none is active.
    """
    name = username_text(username)
    secret = password_text(password)
    with unit_of_work(ctx) as session:
        user = repo.find_user(session, name)
        failure = check_password_of(
            session, ctx, origin, user, secret, username=name, purpose="login"
        )
        if failure is not None or user is None:
            step: PasswordStep | None = None
        else:
            step = _password_ok(session, ctx, origin, user)
    if step is None:
        raise failure or AuthenticationFailed()
    return step


def _password_ok(session: Session, ctx: Context, origin: Origin, user: User) -> PasswordStep:
    if not user.is_active:
        raise AccountDisabled()
    has_2fa = has_active_credential(session, user.id)
    policy = read_policy(session, ctx)
    must_enrol = not has_2fa and requires_2fa(policy, user.is_admin)
    record(
        session,
        ctx,
        origin,
        AuditKind.LOGIN_PASSWORD_OK,
        subject=user,
        detail={"second_factor": has_2fa, "must_enrol": must_enrol},
    )
    return PasswordStep(user_view(session, user), has_2fa, must_enrol)


def verify_code(ctx: Context, origin: Origin, user_id: int, code: str) -> SecondFactor:
    """The second step with a TOTP/HOTP code of any of the user's active authenticators.

    Raises :class:`CodeRejected` (``WRONG``, ``REPLAYED``, ``MALFORMED``), :class:`Locked`,
    :class:`NotEnrolled`, :class:`AccountDisabled`, :class:`NotFound`, :class:`InvalidInput`.
    """
    checked_id = check_id(user_id, "user id")
    return check_login_code(ctx, origin, code, user_id=checked_id)[1]


def verify_code_by_name(
    ctx: Context, origin: Origin, username: str, code: str
) -> tuple[str, SecondFactor]:
    """:func:`verify_code` for a username (any case), in the same single transaction: the
    code check of a verifier that knows names, not ids. Returns the stored username too.

    Raises what :func:`verify_code` raises; :class:`NotFound` for an unknown name.
    """
    return check_login_code(ctx, origin, code, username=normalise_username(username))


def verify_recovery_code(ctx: Context, origin: Origin, user_id: int, code: str) -> SecondFactor:
    """The second step with a recovery code, which is used up; says how many are left."""
    with replays_audited(ctx, origin), unit_of_work(ctx) as session:
        user = load_active_user(session, user_id)
        outcome = check_recovery_code(session, ctx, origin, user, code)
    return _settle(outcome)


def check_trusted_device(ctx: Context, origin: Origin, user_id: int, token: str) -> bool:
    """True if ``token`` is a valid trusted-device token of the user (its use is recorded).

    False for an unknown, revoked or expired token, or while this (account, address) pair
    is throttled; nothing is written then.
    """
    with unit_of_work(ctx) as session:
        user = load_active_user(session, user_id)
        device = find_valid_device(session, ctx, origin, user, token)
        if device is None:
            return False
        device.last_used_at = ctx.now_dt()
        record(
            session,
            ctx,
            origin,
            AuditKind.DEVICE_USED,
            subject=user,
            detail={"device_id": device.id, "name": device.name},
        )
        return True


def trust_device(ctx: Context, origin: Origin, user_id: int, name: str) -> str:
    """Trust this browser for ``settings.trusted_device_days``; the token for the cookie.

    Call it only after a successful second factor. The name (e.g. from the user agent) is
    cut to 200 characters.
    """
    with unit_of_work(ctx) as session:
        user = load_active_user(session, user_id)
        return trust_new_device(session, ctx, origin, user, name)


def verify_step_up(ctx: Context, origin: Origin, user_id: int, password: str) -> datetime:
    """Ask the password again before a sensitive change; the time to keep in the session.

    Throttled like the login's password step.
    """
    secret = password_text(password)
    with unit_of_work(ctx) as session:
        user = load_active_user(session, user_id)
        failure = check_password_of(
            session, ctx, origin, user, secret, username=user.username, purpose="step_up"
        )
        confirmed_at = ctx.now_dt()
    if failure is not None:
        raise failure
    return confirmed_at
