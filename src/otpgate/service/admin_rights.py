"""An admin enables a disabled account again, or gives or takes administrator rights.

Both weaken someone's protection (a dormant account comes back; a new admin can reset
anyone's 2FA), so from the portal they need the admin's fresh full step-up
(``step_up_at``, see :mod:`otpgate.service.admin_step_up`); the operator channels need
none. Admins cannot change their own rights, and the last active admin keeps them.
Taking the rights away ends the account's sessions, so no open session keeps using them.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from otpgate.service._actors import load_stepped_up_admin
from otpgate.service._tx import load_user, unit_of_work
from otpgate.service.audit import AuditKind, record
from otpgate.service.errors import Conflict, InvalidInput
from otpgate.store import repositories as repo
from otpgate.store.models import User

if TYPE_CHECKING:
    from otpgate.service.context import Context, Origin

__all__ = ["active_admins", "reactivate_user", "set_admin"]


def active_admins(session: Session) -> int:
    """How many active administrators there are, in the caller's transaction."""
    query = select(func.count()).select_from(User).where(User.is_admin, User.is_active)
    return int(session.scalar(query) or 0)


def reactivate_user(
    ctx: Context,
    origin: Origin,
    actor_id: int | None,
    user_id: int,
    *,
    step_up_at: datetime | None = None,
) -> None:
    """Let a deactivated account log in again (its 2FA is as it was); an active one is
    left as it is."""
    with unit_of_work(ctx) as session:
        actor = load_stepped_up_admin(session, ctx, origin, actor_id, step_up_at)
        user = load_user(session, user_id)
        if user.is_active:
            return
        user.is_active = True
        record(session, ctx, origin, AuditKind.USER_REACTIVATED, actor=actor, subject=user)


def set_admin(
    ctx: Context,
    origin: Origin,
    actor_id: int | None,
    user_id: int,
    is_admin: bool,
    *,
    step_up_at: datetime | None = None,
) -> None:
    """Give (``is_admin``) or take administrator rights; no change is no event.

    :class:`Conflict` for one's own rights or for the last active administrator.
    """
    if not isinstance(is_admin, bool):
        raise InvalidInput("is_admin must be true or false.")
    with unit_of_work(ctx) as session:
        actor = load_stepped_up_admin(session, ctx, origin, actor_id, step_up_at)
        user = load_user(session, user_id)
        if user.is_admin == is_admin:
            return
        if actor is not None and actor.id == user.id:
            raise Conflict("Ask another administrator to change your own rights.")
        if not is_admin and user.is_active and active_admins(session) <= 1:
            raise Conflict("This is the last active administrator; appoint another first.")
        user.is_admin = is_admin
        session.flush()
        kind = AuditKind.USER_ADMIN_GRANTED if is_admin else AuditKind.USER_ADMIN_REVOKED
        detail: dict[str, object] = {}
        if not is_admin:
            detail["sessions"] = repo.delete_sessions_of(session, user.id)
        record(session, ctx, origin, kind, actor=actor, subject=user, detail=detail)
