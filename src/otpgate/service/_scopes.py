"""The throttle scopes of one user, as admins see them: the lock state, and unlocking.

:mod:`otpgate.service.throttle` names every scope of a user ``user:{id}|…`` (the account,
or the account from one address, for the password or the code step). The ``|`` matters:
user 4's prefix ``user:4|`` does not match user 42's scopes. A bare ``user:{id}`` is
matched too, should a scope ever be named so. Scopes of a name that is no account
(``name:…``) belong to no user and are left alone.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from otpgate.store import repositories as repo
from otpgate.store.models import Throttle

__all__ = ["clear_user_throttles", "user_locked_until", "user_scope_prefix"]


def user_scope_prefix(user_id: int) -> str:
    """What every throttle scope of this user starts with."""
    return f"user:{user_id}|"


def user_locked_until(session: Session, user_id: int, now: datetime) -> datetime | None:
    """The latest lock end among the user's scopes, if it is after ``now``; else None."""
    prefix = user_scope_prefix(user_id)
    query = select(func.max(Throttle.locked_until)).where(
        or_(Throttle.scope == prefix[:-1], Throttle.scope.startswith(prefix, autoescape=True)),
        Throttle.locked_until > now,
    )
    until: datetime | None = session.scalar(query)
    return until


def clear_user_throttles(session: Session, user_id: int) -> int:
    """Forget every failure count and lock of the user; how many scopes there were."""
    prefix = user_scope_prefix(user_id)
    cleared = int(repo.clear_throttle(session, prefix[:-1]))
    return cleared + repo.clear_throttles_like(session, prefix)
