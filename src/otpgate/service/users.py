"""Accounts: create, look up, list, change or set a password, deactivate, choose a language.

Usernames are 1 to 150 characters of ASCII letters, digits and ``. _ - @``, stored
lower-case: ``Alice`` and ``alice`` are one account. ASCII only, because a username is
also an SSH login name and look-alike letters from other scripts would allow spoofing.
Surrounding spaces are removed before checking.

Sessions: a password change (by the user or an admin) and a deactivation end every
session of the account at once, portal and forward auth alike. The use cases take
``keep_session``, the id hash of the acting browser's own session, which survives (the
adapter then rotates its id); trusted devices are kept, because they only stand in for
the second factor and the new password is still asked. From the portal, an admin needs a
fresh full step-up (``step_up_at``) to set a password, deactivate or reactivate an
account, or create or appoint an administrator.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from otpgate.security.errors import WeakPassword
from otpgate.security.passwords import check_password_strength
from otpgate.service._actors import load_admin_actor, load_stepped_up_admin
from otpgate.service._convert import user_view
from otpgate.service._password import check_password_of, password_text
from otpgate.service._scopes import user_locked_until
from otpgate.service._text import refuse_controls
from otpgate.service._tx import load_active_user, load_user, unit_of_work
from otpgate.service.admin_rights import active_admins
from otpgate.service.audit import AuditKind, record
from otpgate.service.errors import AuthenticationFailed, Conflict, InvalidInput, NotFound
from otpgate.service.views import UserSummary, UserView
from otpgate.store import repositories as repo
from otpgate.store.models import User

if TYPE_CHECKING:
    from otpgate.service.context import Context, Origin

__all__ = [
    "LOCALES",
    "change_password",
    "count_users",
    "create_user",
    "deactivate_user",
    "find_user",
    "get_user",
    "list_users",
    "normalise_username",
    "set_locale",
    "set_password",
]

LOCALES = frozenset({"en", "fr"})
MAX_USERNAME = 150
_USERNAME = re.compile(r"[a-z0-9._@-]{1,150}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_MAX_DISPLAY_NAME = 200
_MAX_EMAIL = 320
_MAX_SEARCH = 200
_MAX_LIMIT = 1000


def normalise_username(text: object) -> str:
    """The stored form of a username (stripped, lower-case), or :class:`InvalidInput`."""
    if not isinstance(text, str):
        raise InvalidInput("The username must be text.")
    name = text.strip().lower()
    if not name.isascii() or not _USERNAME.fullmatch(name):
        raise InvalidInput(
            "A username has 1 to 150 characters: letters a-z, digits and . _ - @ only."
        )
    return name


def _check_text(value: object, what: str, maximum: int) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"The {what} must be text.")
    refuse_controls(value, what)
    value = value.strip()
    if len(value) > maximum or not value.isprintable():
        raise InvalidInput(f"The {what} must be at most {maximum} printable characters.")
    return value


def _check_email(value: object) -> str:
    email = _check_text(value, "e-mail address", _MAX_EMAIL)
    if email and not _EMAIL.fullmatch(email):
        raise InvalidInput("The e-mail address is not valid.")
    return email


def _check_locale(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value not in LOCALES:
        raise InvalidInput("The language must be one of: en, fr.")
    return value


def _check_new_password(password: object) -> str:
    try:
        check_password_strength(password)
    except WeakPassword as exc:
        raise InvalidInput(f"The new {exc}.") from None
    assert isinstance(password, str)  # checked above; tells the type checker
    return password


def _limits(limit: object, offset: object) -> tuple[int, int]:
    for value, low, high in ((limit, 1, _MAX_LIMIT), (offset, 0, 2**31)):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InvalidInput(f"limit must be 1..{_MAX_LIMIT} and offset non-negative.")
    return limit, offset  # type: ignore[return-value]


def insert_user(
    session: Session,
    ctx: Context,
    origin: Origin,
    *,
    username: object,
    password: object,
    email: object = "",
    display_name: object = "",
    is_admin: object = False,
    locale: object = None,
    actor: User | None = None,
) -> User:
    """Check every field, add the user and its audit row in the caller's transaction.

    The shared core of :func:`create_user` and the first-admin setup.
    """
    name = normalise_username(username)
    checked_email = _check_email(email)
    checked_display_name = _check_text(display_name, "display name", _MAX_DISPLAY_NAME)
    checked_locale = _check_locale(locale)
    if not isinstance(is_admin, bool):
        raise InvalidInput("is_admin must be true or false.")
    new_password = _check_new_password(password)
    if repo.find_user(session, name) is not None:
        raise Conflict(f"The username {name!r} is already taken.")
    now = ctx.now_dt()
    user = repo.add_user(
        session,
        username=name,
        password_hash=ctx.hasher.hash(new_password),
        is_admin=is_admin,
        is_active=True,
        created_at=now,
        password_changed_at=now,
        email=checked_email,
        display_name=checked_display_name,
        locale=checked_locale,
    )
    session.flush()  # the audit row needs the new id
    record(
        session,
        ctx,
        origin,
        AuditKind.USER_CREATED,
        actor=actor,
        subject=user,
        detail={"is_admin": is_admin},
    )
    return user


def create_user(
    ctx: Context,
    origin: Origin,
    username: str,
    password: str,
    *,
    email: str = "",
    display_name: str = "",
    is_admin: bool = False,
    locale: str | None = None,
    actor_id: int | None = None,
    step_up_at: datetime | None = None,
) -> UserView:
    """Create an active account; the actor must be an admin (None: CLI/API operator).

    Raises :class:`InvalidInput` (bad username, e-mail, weak password…), :class:`Conflict`
    (username taken), :class:`NotPermitted`, or :class:`StepUpRequired` when a portal
    admin creates an administrator without a fresh full step-up.
    """
    with unit_of_work(ctx) as session:
        if is_admin is True:
            actor = load_stepped_up_admin(session, ctx, origin, actor_id, step_up_at)
        else:
            actor = load_admin_actor(session, origin, actor_id)
        user = insert_user(
            session,
            ctx,
            origin,
            username=username,
            password=password,
            email=email,
            display_name=display_name,
            is_admin=is_admin,
            locale=locale,
            actor=actor,
        )
        return user_view(session, user)


def get_user(ctx: Context, user_id: int) -> UserView:
    """The user with this id (active or not); :class:`NotFound` if none."""
    with unit_of_work(ctx) as session:
        return user_view(session, load_user(session, user_id))


def find_user(ctx: Context, username: str) -> UserView:
    """The user with this name (any case); :class:`NotFound` if none."""
    name = normalise_username(username)
    with unit_of_work(ctx) as session:
        user = repo.find_user(session, name)
        if user is None:
            raise NotFound("No such user.")
        return user_view(session, user)


def list_users(
    ctx: Context, search: str = "", limit: int = 100, offset: int = 0
) -> list[UserSummary]:
    """Users whose username, display name or e-mail contains ``search``, with 2FA and lock state."""
    text = _check_text(search, "search text", _MAX_SEARCH)
    limit, offset = _limits(limit, offset)
    with unit_of_work(ctx) as session:
        now = ctx.now_dt()
        summaries = []
        for user in repo.search_users(session, text, limit=limit, offset=offset):
            view = user_view(session, user)
            summaries.append(
                UserSummary(
                    **vars(view),
                    locked_until=user_locked_until(session, user.id, now),
                    authenticators=len(repo.credentials_of(session, user.id)),
                )
            )
        return summaries


def change_password(
    ctx: Context,
    origin: Origin,
    user_id: int,
    old: str,
    new: str,
    *,
    keep_session: str | None = None,
) -> None:
    """The user changes their own password; every session of theirs but ``keep_session``
    (the id hash of the browser that changed it) is ended.

    The current password is checked with the login's throttle: a wrong one is counted
    and audited (that much is stored) before :class:`AuthenticationFailed` is raised, so
    a stolen session cannot be used to guess the password; :class:`Locked` while the
    account's password step is locked. :class:`InvalidInput` if ``new`` is refused. The
    adapter must rotate the kept session's id.
    """
    current = password_text(old)
    new_password = _check_new_password(new)
    if new_password == current:
        raise InvalidInput("The new password must differ from the current one.")
    with unit_of_work(ctx) as session:
        user = load_active_user(session, user_id)
        failure = check_password_of(
            session, ctx, origin, user, current, username=user.username, purpose="change_password"
        )
        if failure is None:
            _store_password(session, ctx, user, new_password, keep_session)
            record(
                session, ctx, origin, AuditKind.USER_PASSWORD_CHANGED, actor=user, subject=user
            )
    if failure is not None:
        raise AuthenticationFailed("The current password is not correct.")


def set_password(
    ctx: Context,
    origin: Origin,
    actor_id: int | None,
    user_id: int,
    new: str,
    *,
    step_up_at: datetime | None = None,
    keep_session: str | None = None,
) -> None:
    """An admin sets a user's password; every session of the user is ended (but
    ``keep_session``, which matters when admins set their own)."""
    new_password = _check_new_password(new)
    with unit_of_work(ctx) as session:
        actor = load_stepped_up_admin(session, ctx, origin, actor_id, step_up_at)
        user = load_user(session, user_id)
        _store_password(session, ctx, user, new_password, keep_session)
        record(
            session,
            ctx,
            origin,
            AuditKind.USER_PASSWORD_CHANGED,
            actor=actor,
            subject=user,
            detail={"by_admin": True},
        )


def _store_password(
    session: Session, ctx: Context, user: User, password: str, keep_session: str | None
) -> None:
    user.password_hash = ctx.hasher.hash(password)
    user.password_changed_at = ctx.now_dt()
    session.flush()
    repo.delete_sessions_of(session, user.id, keep=keep_session)


def deactivate_user(
    ctx: Context,
    origin: Origin,
    actor_id: int | None,
    user_id: int,
    *,
    step_up_at: datetime | None = None,
) -> None:
    """An admin disables an account and ends its sessions; it can no longer log in.

    Deactivating an inactive account does nothing. Admins cannot deactivate themselves,
    and the last active admin cannot be deactivated (:class:`Conflict`).
    """
    with unit_of_work(ctx) as session:
        actor = load_stepped_up_admin(session, ctx, origin, actor_id, step_up_at)
        user = load_user(session, user_id)
        if not user.is_active:
            return
        if actor is not None and actor.id == user.id:
            raise Conflict("You cannot deactivate your own account.")
        if user.is_admin and active_admins(session) <= 1:
            raise Conflict("This is the last active administrator; appoint another first.")
        user.is_active = False
        session.flush()
        repo.delete_sessions_of(session, user.id)
        record(session, ctx, origin, AuditKind.USER_DEACTIVATED, actor=actor, subject=user)


def set_locale(ctx: Context, user_id: int, locale: str | None) -> None:
    """The user's language for pages and e-mails: "en", "fr", or None (browser's choice)."""
    checked = _check_locale(locale)
    with unit_of_work(ctx) as session:
        load_user(session, user_id).locale = checked


def count_users(ctx: Context) -> int:
    """How many accounts exist, active or not."""
    with unit_of_work(ctx) as session:
        return repo.count_users(session)
