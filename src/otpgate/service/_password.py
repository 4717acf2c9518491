"""The password check shared by the login, the step-up and "disable 2FA", with its throttle.

Unknown names are checked exactly like known ones: same argon2 cost (``dummy_verify``),
same throttle behaviour (scopes keyed by a hash of the name), same error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from otpgate.security.errors import PasswordMismatch
from otpgate.service import throttle
from otpgate.service.audit import AuditKind, record
from otpgate.service.errors import AuthenticationFailed, InvalidInput
from otpgate.store import repositories as repo
from otpgate.store.models import User

if TYPE_CHECKING:
    from otpgate.service.context import Context, Origin

__all__ = ["MAX_PASSWORD", "MAX_USERNAME", "check_password_of", "password_text", "username_text"]

MAX_USERNAME = 150
MAX_PASSWORD = 1024


def username_text(username: object) -> str:
    """A username as typed: text of 1 to 150 characters, surrounding spaces removed."""
    if not isinstance(username, str):
        raise InvalidInput("The username must be text.")
    username = username.strip()
    if not username or len(username) > MAX_USERNAME:
        raise InvalidInput(f"The username must have 1 to {MAX_USERNAME} characters.")
    return username


def password_text(password: object) -> str:
    """A password as typed: text of at most 1024 characters (longer can never be right)."""
    if not isinstance(password, str):
        raise InvalidInput("The password must be text.")
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(f"The password must have at most {MAX_PASSWORD} characters.")
    return password


def _scopes(user: User | None, username: str, client_addr: str) -> tuple[str, str]:
    if user is None:
        return throttle.name_scopes(username, client_addr)
    return (
        throttle.account_scope(user.id, "pw"),
        throttle.pair_scope(user.id, "pw", client_addr),
    )


def check_password_of(
    session: Session,
    ctx: Context,
    origin: Origin,
    user: User | None,
    password: str,
    *,
    username: str,
    purpose: str,
) -> AuthenticationFailed | None:
    """Check ``password`` for ``user`` (None: unknown name) inside the caller's transaction.

    Raises :class:`Locked` before any hashing work if a scope is locked (nothing written).
    Returns None on success (after rehashing an outdated hash), or the
    :class:`AuthenticationFailed` to raise once the counted failure is committed.
    """
    now = ctx.now_dt()
    account_scope, pair_scope = _scopes(user, username, origin.client_addr)
    throttle.raise_if_locked(session, [account_scope, pair_scope], now)
    ok = False
    if user is None:
        ctx.hasher.dummy_verify(password)
    else:
        try:
            ok = ctx.hasher.verify(user.password_hash, password)
        except PasswordMismatch:
            ok = False
    if ok and user is not None:
        repo.clear_throttle(session, pair_scope)
        if ctx.hasher.needs_rehash(user.password_hash):
            user.password_hash = ctx.hasher.hash(password)
        return None
    attempts = [
        throttle.begin_attempt(session, account_scope, throttle.PASSWORD_ACCOUNT, now),
        throttle.begin_attempt(session, pair_scope, throttle.PASSWORD_PAIR, now),
    ]
    record(
        session,
        ctx,
        origin,
        AuditKind.LOGIN_PASSWORD_FAILED,
        subject=user,
        detail={
            "reason": "unknown_user" if user is None else "wrong_password",
            "purpose": purpose,
            "failures": max(a.failures for a in attempts),
        },
    )
    for attempt in attempts:
        until = throttle.fail_attempt(session, attempt, now)
        if until is not None and user is not None:
            record(
                session,
                ctx,
                origin,
                AuditKind.LOGIN_LOCKED,
                subject=user,
                detail={
                    "scope": "address" if attempt is attempts[1] else "account",
                    "step": "password",
                    "failures": attempt.failures,
                    "until": until.isoformat(),
                },
            )
    return AuthenticationFailed()
