"""Server-side web sessions: the cookie holds a random id, the table only its hash.

A session climbs levels: ``anonymous`` (a visitor; holds the CSRF token of the login form)
→ ``password`` (password checked, second factor still due: half logged in) → ``full``;
or ``password``/``anonymous`` → ``enrol`` (password checked, the policy demands 2FA that the
account lacks: only enrolment is allowed). Every change of level gets a new id
(:func:`rotate_session`), so an id seen before a privilege change is worthless after it.

Expiry: each level has an absolute lifetime counted from the last rotation (half-logged-in
sessions are short) and every session dies after ``session_idle_seconds`` without use.
What a level *allows* is decided by the adapters; this module only keeps the state.

Two step-ups are kept: ``step_up_at`` (the password was confirmed: enough to enrol or
regenerate recovery codes) and ``admin_step_up_at`` (the password *and* a second factor
were, see :mod:`otpgate.service.admin_step_up`). Only :func:`record_step_up` writes
them, and they follow the session through a rotation only for the same user.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from otpgate.security.tokens import hash_token, new_token, tokens_equal
from otpgate.service._tx import unit_of_work
from otpgate.service.errors import InvalidInput
from otpgate.store import repositories as repo
from otpgate.store.models import WebSession

if TYPE_CHECKING:
    from otpgate.config import Settings
    from otpgate.service.context import Context, Origin

__all__ = [
    "LEVELS",
    "Level",
    "WebSessionView",
    "check_csrf",
    "end_session",
    "end_sessions_of",
    "load_session",
    "purge_expired_sessions",
    "record_step_up",
    "rotate_session",
    "start_session",
    "update_session_data",
]

Level = Literal["anonymous", "password", "enrol", "full"]
LEVELS: tuple[Level, ...] = ("anonymous", "password", "enrol", "full")

_CSRF_KEY = "csrf"
_ADMIN_STEP_UP_KEY = "admin_step_up_at"
_MANAGED_KEYS = frozenset({_CSRF_KEY, _ADMIN_STEP_UP_KEY})
# A session seen less than this long ago is not written back on every request.
_TOUCH_SECONDS = 30
_MAX_TOKEN_CHARS = 200


@dataclass(frozen=True)
class WebSessionView:
    """One session as the adapter sees it; ``data`` is a copy (change it with
    :func:`update_session_data`)."""

    id_hash: str
    user_id: int | None
    level: Level
    data: dict[str, Any]
    step_up_at: datetime | None
    created_at: datetime
    expires_at: datetime

    @property
    def csrf_token(self) -> str:
        return str(self.data.get(_CSRF_KEY, ""))

    @property
    def admin_step_up_at(self) -> datetime | None:
        """When the password and a second factor were last confirmed in this session."""
        value = self.data.get(_ADMIN_STEP_UP_KEY)
        if not isinstance(value, str):
            return None
        try:
            at = datetime.fromisoformat(value)
        except ValueError:
            return None
        return at if at.tzinfo is not None else None


def _lifetime(settings: Settings, level: Level) -> int:
    if level == "password":
        return settings.half_login_seconds
    if level == "enrol":
        return max(settings.half_login_seconds, settings.pending_enrolment_seconds)
    if level == "anonymous":
        return settings.session_idle_seconds
    return settings.session_seconds


def _view(row: WebSession) -> WebSessionView:
    level: Level = row.level if row.level in LEVELS else "anonymous"
    return WebSessionView(
        id_hash=row.id_hash,
        user_id=row.user_id,
        level=level,
        data=dict(row.data or {}),
        step_up_at=row.step_up_at,
        created_at=row.created_at,
        expires_at=row.expires_at,
    )


def _is_live(ctx: Context, row: WebSession, now: datetime) -> bool:
    idle = timedelta(seconds=ctx.settings.session_idle_seconds)
    return row.expires_at > now and row.last_seen_at + idle > now


def _hash(token: object) -> str | None:
    if not isinstance(token, str) or not 0 < len(token) <= _MAX_TOKEN_CHARS:
        return None
    return hash_token(token)


def _new_row(
    ctx: Context,
    origin: Origin,
    *,
    level: Level,
    user_id: int | None,
    data: dict[str, Any],
    step_up_at: datetime | None,
) -> tuple[str, dict[str, Any]]:
    now = ctx.now_dt()
    token = new_token()
    fields: dict[str, Any] = {
        "id_hash": hash_token(token),
        "user_id": user_id,
        "level": level,
        "data": {**data, _CSRF_KEY: new_token()},
        "client_addr": origin.client_addr[:64],
        "user_agent": origin.user_agent[:400],
        "created_at": now,
        "last_seen_at": now,
        "expires_at": now + timedelta(seconds=_lifetime(ctx.settings, level)),
        "step_up_at": step_up_at,
    }
    return token, fields


def start_session(
    ctx: Context, origin: Origin, *, data: dict[str, Any] | None = None
) -> tuple[str, WebSessionView]:
    """A new anonymous session: (cookie value, view)."""
    token, fields = _new_row(
        ctx, origin, level="anonymous", user_id=None, data=dict(data or {}), step_up_at=None
    )
    with unit_of_work(ctx) as s:
        row = repo.add_session(s, **fields)
        return token, _view(row)


def load_session(ctx: Context, token: object) -> WebSessionView | None:
    """The live session of this cookie value, or None (unknown, malformed or expired —
    an expired one is deleted)."""
    id_hash = _hash(token)
    if id_hash is None:
        return None
    now = ctx.now_dt()
    with unit_of_work(ctx) as s:
        row = repo.get_session(s, id_hash)
        if row is None:
            return None
        if not _is_live(ctx, row, now):
            repo.delete_session(s, id_hash)
            return None
        if (now - row.last_seen_at).total_seconds() >= _TOUCH_SECONDS:
            row.last_seen_at = now
        return _view(row)


def rotate_session(
    ctx: Context,
    origin: Origin,
    token: object,
    *,
    level: Level,
    user_id: int | None,
    step_up: bool = False,
) -> tuple[str, WebSessionView]:
    """Replace the session by one with a new id (and CSRF token) at ``level``.

    The old row is deleted; its data is carried over except the CSRF token. A missing or
    expired old session is not an error: the new one simply starts empty. ``step_up``
    records that the password was just checked (it counts as a fresh step-up).
    """
    if level not in LEVELS:
        raise InvalidInput("Unknown session level.")
    old_hash = _hash(token)
    with unit_of_work(ctx) as s:
        data: dict[str, Any] = {}
        step_up_at = None
        old = repo.get_session(s, old_hash) if old_hash else None
        if old is not None:
            if old.user_id in (None, user_id):
                same_user = old.user_id == user_id
                data = {
                    k: v
                    for k, v in (old.data or {}).items()
                    if k != _CSRF_KEY and (same_user or k not in _MANAGED_KEYS)
                }
                step_up_at = old.step_up_at if same_user else None
            repo.delete_session(s, old.id_hash)
        if step_up:
            step_up_at = ctx.now_dt()
        new_token_, fields = _new_row(
            ctx, origin, level=level, user_id=user_id, data=data, step_up_at=step_up_at
        )
        row = repo.add_session(s, **fields)
        return new_token_, _view(row)


def update_session_data(ctx: Context, id_hash: str, **changes: Any) -> WebSessionView | None:
    """Set keys of the session's data (a value of None removes the key); None if gone."""
    if _MANAGED_KEYS & changes.keys():
        raise InvalidInput("The CSRF token and the step-ups are managed by the session.")
    with unit_of_work(ctx) as s:
        row = repo.get_session(s, id_hash)
        if row is None:
            return None
        data = dict(row.data or {})
        for key, value in changes.items():
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
        # A new dict, so the JSON column is seen as changed.
        row.data = data
        return _view(row)


def record_step_up(ctx: Context, id_hash: str, at: datetime, *, admin: bool = False) -> None:
    """Remember when the password was last confirmed in this session; with ``admin``, the
    password and a second factor (a full step-up) were."""
    with unit_of_work(ctx) as s:
        row = repo.get_session(s, id_hash)
        if row is not None:
            row.step_up_at = at
            if admin:
                # A new dict, so the JSON column is seen as changed.
                row.data = {**(row.data or {}), _ADMIN_STEP_UP_KEY: at.isoformat()}


def check_csrf(view: WebSessionView, submitted: object) -> bool:
    """True iff ``submitted`` is this session's CSRF token (constant-time compare)."""
    expected = view.csrf_token
    if not expected or not isinstance(submitted, str) or len(submitted) > _MAX_TOKEN_CHARS:
        return False
    return tokens_equal(expected, submitted)


def end_session(ctx: Context, token: object) -> None:
    """Delete the session of this cookie value, if any (logout)."""
    id_hash = _hash(token)
    if id_hash is None:
        return
    with unit_of_work(ctx) as s:
        repo.delete_session(s, id_hash)


def end_sessions_of(ctx: Context, user_id: int) -> int:
    """Delete every session of a user (deactivation, 2FA reset); how many were deleted."""
    with unit_of_work(ctx) as s:
        return repo.delete_sessions_of(s, user_id)


def purge_expired_sessions(ctx: Context) -> int:
    """Delete sessions past their absolute expiry; how many were deleted."""
    with unit_of_work(ctx) as s:
        return repo.delete_expired_sessions(s, ctx.now_dt())
