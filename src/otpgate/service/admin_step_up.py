"""The step-up an administrator makes before an action that weakens someone's protection.

Resetting 2FA, issuing a bypass code, disabling or enabling an account, granting admin
rights, setting a password, changing the policy and creating an API token from the
portal each need a *full* step-up no older than ``settings.step_up_seconds``: the
password again **and** a current second factor of the admin's own account, so a session
left open (or stolen) is not enough. An admin whose account has no second factor can only
step up with the password when the policy does not require 2FA of admins (it does out of
the box; then such an admin never reaches the admin area at all, see
:mod:`otpgate.service.login`).

The operator channels need none: the CLI runs as root on the host, and an admin-scoped
API token was itself created by a step-up (or by the CLI).

"A current second factor" is a TOTP/HOTP code today; recovery codes are not accepted
here (they are the lost-phone path, and would be spent by routine admin work). Another
factor (a passkey) is one more field of :class:`StepUpProof` and one more branch of
:func:`_second_factor_failure`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from otpgate.service._code_check import check_code
from otpgate.service._convert import has_active_credential
from otpgate.service._password import check_password_of, password_text
from otpgate.service._stepup import require_fresh_step_up
from otpgate.service._tx import load_active_user, unit_of_work
from otpgate.service.admin import read_policy, requires_2fa
from otpgate.service.errors import (
    CodeRejected,
    InvalidInput,
    NotEnrolled,
    RejectReason,
    ServiceError,
    StepUpRequired,
)
from otpgate.service.verification import code_text
from otpgate.store.models import User

if TYPE_CHECKING:
    from otpgate.service.context import Context, Origin

__all__ = ["StepUpProof", "step_up_is_fresh", "verify_admin_step_up"]

_PURPOSE = "admin_step_up"


@dataclass(frozen=True)
class StepUpProof:
    """What the admin typed: the password and a current code of one of their authenticators."""

    password: str
    code: str = ""

    def __repr__(self) -> str:
        return "StepUpProof(...)"


def step_up_is_fresh(ctx: Context, step_up_at: datetime | None) -> bool:
    """True if a full step-up made at ``step_up_at`` still counts (for showing the form)."""
    try:
        require_fresh_step_up(ctx, step_up_at)
    except (StepUpRequired, InvalidInput):
        return False
    return True


def verify_admin_step_up(
    ctx: Context, origin: Origin, user_id: int, proof: StepUpProof
) -> datetime:
    """Check the password and a current second factor; the time to keep in the session.

    Both are throttled and audited as at login (a wrong one is counted before
    :class:`AuthenticationFailed` or :class:`CodeRejected` is raised); :class:`Locked`
    while locked; :class:`NotEnrolled` when the policy requires 2FA of this account and it
    has none (it must enrol first).
    """
    secret = password_text(proof.password)
    with unit_of_work(ctx) as session:
        user = load_active_user(session, user_id)
        failure: ServiceError | None = check_password_of(
            session, ctx, origin, user, secret, username=user.username, purpose=_PURPOSE
        )
        if failure is None:
            failure = _second_factor_failure(session, ctx, origin, user, proof)
        confirmed_at = ctx.now_dt()
    if failure is not None:
        raise failure
    return confirmed_at


def _second_factor_failure(
    session: Session, ctx: Context, origin: Origin, user: User, proof: StepUpProof
) -> ServiceError | None:
    if not has_active_credential(session, user.id):
        if requires_2fa(read_policy(session, ctx), user.is_admin):
            raise NotEnrolled("Turn on two-factor authentication before this action.")
        return None
    if not proof.code.strip():
        raise CodeRejected(RejectReason.MALFORMED)
    code_text(proof.code)
    outcome = check_code(session, ctx, origin, user, proof.code, purpose=_PURPOSE)
    return outcome if isinstance(outcome, CodeRejected) else None
