"""Who is behind a session cookie, for the forward-auth endpoint of a reverse proxy.

Only a *full* session counts (password, then the second factor when the account has
one). A protected site may ask for less than the portal allows: a shorter lifetime
(counted from the full login) or a shorter inactivity timeout. A session past a site's
limit is ended, because only a new login can satisfy it. Whether the user may enter the
site is the adapter's rule table (the sites file); this module says who the user is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from otpgate.security.tokens import hash_token
from otpgate.service._convert import user_view
from otpgate.service._tx import unit_of_work
from otpgate.service.errors import NotEnrolled
from otpgate.service.groups import ADMINS
from otpgate.service.views import UserView
from otpgate.store import repositories as repo
from otpgate.store.models import User, WebSession

if TYPE_CHECKING:
    from otpgate.service.context import Context

__all__ = ["SessionIdentity", "session_identity"]

_MAX_TOKEN_CHARS = 200
# As for the portal's own pages: last use is written back at most this often.
_TOUCH_SECONDS = 30


@dataclass(frozen=True)
class SessionIdentity:
    """The user of a live full session, with their groups (``admins`` included)."""

    user: UserView
    groups: frozenset[str]
    logged_in_at: datetime


def _expired(row: WebSession, now: datetime, lifetime: int | None, idle: int) -> bool:
    if row.expires_at <= now or row.last_seen_at + timedelta(seconds=idle) <= now:
        return True
    return lifetime is not None and row.created_at + timedelta(seconds=lifetime) <= now


def session_identity(
    ctx: Context,
    token: object,
    *,
    max_age_seconds: int | None = None,
    max_idle_seconds: int | None = None,
    require_2fa: bool = True,
) -> SessionIdentity | None:
    """The identity of the session cookie ``token``, or None when a login is needed.

    None for a missing, unknown, expired or not yet full session, or an inactive user.
    ``max_age_seconds``/``max_idle_seconds`` tighten the portal's own limits (they
    cannot extend them). Raises :class:`NotEnrolled` when ``require_2fa`` and the user
    has no authenticator: logging in again would not help.
    """
    if not isinstance(token, str) or not 0 < len(token) <= _MAX_TOKEN_CHARS:
        return None
    id_hash = hash_token(token)
    now = ctx.now_dt()
    idle = ctx.settings.session_idle_seconds
    if max_idle_seconds is not None:
        idle = min(idle, max_idle_seconds)
    with unit_of_work(ctx) as s:
        row = repo.get_session(s, id_hash)
        if row is None:
            return None
        user = s.get(User, row.user_id) if row.user_id is not None else None
        if _expired(row, now, max_age_seconds, idle) or (user is not None and not user.is_active):
            repo.delete_session(s, id_hash)
            return None
        if row.level != "full" or user is None:
            return None
        if (now - row.last_seen_at).total_seconds() >= _TOUCH_SECONDS:
            row.last_seen_at = now
        view = user_view(s, user)
        groups = set(repo.groups_of_user(s, user.id))
        if user.is_admin:
            groups.add(ADMINS)
        logged_in_at = row.created_at
    if require_2fa and not view.has_2fa:
        raise NotEnrolled(
            "This site requires two-factor authentication: enable it on your security page."
        )
    return SessionIdentity(view, frozenset(groups), logged_in_at)
