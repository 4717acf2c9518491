"""Removing a passkey, as removing an authenticator: while another factor stays, a fresh
step-up and proof of that other factor (a code from an authenticator, or another passkey's
signature); the last second factor goes only with the password and that passkey's own
signature, and turns 2FA off. Audited (and mailed) as ``passkey.removed``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from otpgate.service import _webauthn as wa
from otpgate.service._code_check import check_code
from otpgate.service._passkey_challenge import put_challenge
from otpgate.service._passkey_check import Ask, check_assertion, known_keys
from otpgate.service._password import check_password_of, password_text
from otpgate.service._stepup import require_fresh_step_up
from otpgate.service._tx import load_active_user, unit_of_work
from otpgate.service.audit import AuditKind, record
from otpgate.service.authenticators import switch_off
from otpgate.service.errors import (
    CodeRejected,
    InvalidInput,
    LastAuthenticator,
    PasskeyReason,
    PasskeyRejected,
    ServiceError,
)
from otpgate.service.passkeys import own_passkey, require_passkeys
from otpgate.store import repositories as repo
from otpgate.store.models import User, WebAuthnCredential

if TYPE_CHECKING:
    from otpgate.service.context import Context, Origin

__all__ = ["removal_options", "remove_passkey"]


def _is_last(session: Session, user: User) -> bool:
    others = repo.credentials_of(session, user.id, "active")
    return not others and repo.count_passkeys(session, user.id) == 1


def removal_options(
    ctx: Context, user_id: int, session_id: str, passkey_id: int, *, step_up_at: datetime | None
) -> str:
    """Options (JSON) to confirm a removal with a passkey: *another* one while other
    factors stay, this very one when it is the last factor (with the password)."""
    require_passkeys(ctx)
    with unit_of_work(ctx) as session:
        user = load_active_user(session, user_id)
        key = own_passkey(session, user, passkey_id)
        last = _is_last(session, user)
        if not last:
            require_fresh_step_up(ctx, step_up_at)
        keys = repo.passkeys_of(session, user.id)
        allowed = [key] if last else [k for k in keys if k.id != key.id]
        if not allowed:
            raise PasskeyRejected(PasskeyReason.UNKNOWN)
        options, challenge = wa.assertion_options(
            ctx.settings.passkeys, known_keys(allowed), verify_user=False
        )
        put_challenge(session, ctx, session_id, "remove", challenge, user.id, key.id)
        return options


def remove_passkey(
    ctx: Context,
    origin: Origin,
    user_id: int,
    session_id: str,
    passkey_id: int,
    *,
    step_up_at: datetime | None,
    code: str | None = None,
    response: str | None = None,
    password: str | None = None,
) -> None:
    """Remove one passkey.

    While another factor stays: a fresh step-up and a ``code`` from an authenticator or
    an assertion (``response``) of another passkey. The last factor: the ``password``
    and an assertion of this passkey; it turns 2FA off. Else :class:`LastAuthenticator`.
    """
    secret = None if password is None else password_text(password)
    failure: ServiceError | None = None
    with unit_of_work(ctx) as session:
        user = load_active_user(session, user_id)
        key = own_passkey(session, user, passkey_id)
        if _is_last(session, user):
            failure = _remove_last(session, ctx, origin, user, key, secret, response, session_id)
        else:
            require_fresh_step_up(ctx, step_up_at)
            failure = _prove_other(session, ctx, origin, user, key, code, response, session_id)
            if failure is None:
                _delete(session, ctx, origin, user, key)
    if failure is not None:
        raise failure


def _prove_other(  # noqa: PLR0917
    session: Session,
    ctx: Context,
    origin: Origin,
    user: User,
    key: WebAuthnCredential,
    code: str | None,
    response: str | None,
    session_id: str,
) -> ServiceError | None:
    if response:
        others = [k.id for k in repo.passkeys_of(session, user.id) if k.id != key.id]
        ask = Ask(purpose="remove", user=user, allowed=others, target=key.id)
        outcome = check_assertion(session, ctx, origin, session_id, ask, response)
        return outcome if isinstance(outcome, PasskeyRejected) else None
    if not code:
        raise InvalidInput("Confirm with a code from an authenticator or another passkey.")
    checked = check_code(session, ctx, origin, user, code, purpose="remove_passkey")
    return checked if isinstance(checked, CodeRejected) else None


def _remove_last(  # noqa: PLR0917
    session: Session,
    ctx: Context,
    origin: Origin,
    user: User,
    key: WebAuthnCredential,
    secret: str | None,
    response: str | None,
    session_id: str,
) -> ServiceError | None:
    if secret is None or not response:
        raise LastAuthenticator()
    failure = check_password_of(
        session, ctx, origin, user, secret, username=user.username, purpose="disable_2fa"
    )
    if failure is not None:
        return failure
    ask = Ask(purpose="remove", user=user, allowed=[key.id], target=key.id)
    outcome = check_assertion(session, ctx, origin, session_id, ask, response)
    if isinstance(outcome, PasskeyRejected):
        return outcome
    record(session, ctx, origin, AuditKind.PASSKEY_REMOVED, actor=user, subject=user,
           detail={"passkey_id": key.id, "name": key.name, "last": True})
    switch_off(session, ctx, origin, user, {"via": "remove_last_passkey", "name": key.name},
               session_id)
    return None


def _delete(
    session: Session, ctx: Context, origin: Origin, user: User, key: WebAuthnCredential
) -> None:
    detail = {"passkey_id": key.id, "name": key.name}
    repo.delete_passkey(session, user.id, key.id)
    record(session, ctx, origin, AuditKind.PASSKEY_REMOVED, actor=user, subject=user,
           detail=detail)
