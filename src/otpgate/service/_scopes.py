"""Names of the throttle scopes that belong to one user, and what admins read or clear of them.

Convention shared with :mod:`otpgate.service.throttle`: a user's scopes are
``user:{id}`` (the account) and ``user:{id}|{client address}`` (account and address).
The ``|`` separator matters: user 4's prefix ``user:4|`` does not match user 42's
scopes. Scopes of an address alone (``addr:…``) belong to no user and are left alone.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from otpgate.store import repositories as repo
from otpgate.store.models import Throttle

__all__ = ["clear_user_throttles", "user_addr_scope", "user_locked_until", "user_scope"]


def user_scope(user_id: int) -> str:
    """The throttle scope of an account, whatever the client address."""
    return f"user:{user_id}"


def user_addr_scope(user_id: int, client_addr: str) -> str:
    """The throttle scope of an account tried from one client address."""
    return f"{user_scope(user_id)}|{client_addr}"


def user_locked_until(session: Session, user_id: int, now: datetime) -> datetime | None:
    """The latest lock end among the user's scopes, if it is after ``now``; else None."""
    scope = user_scope(user_id)
    query = select(func.max(Throttle.locked_until)).where(
        or_(Throttle.scope == scope, Throttle.scope.startswith(scope + "|", autoescape=True)),
        Throttle.locked_until > now,
    )
    until: datetime | None = session.scalar(query)
    return until


def clear_user_throttles(session: Session, user_id: int) -> int:
    """Forget every failure count and lock of the user; how many scopes there were."""
    scope = user_scope(user_id)
    cleared = int(repo.clear_throttle(session, scope))
    return cleared + repo.clear_throttles_like(session, scope + "|")
