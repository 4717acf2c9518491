"""Passkeys and security keys (WebAuthn) as second factors, beside TOTP/HOTP authenticators.

The same rules as authenticators: adding one needs a fresh step-up (the password asked
again); each is named, listed, renamed, and removed one by one
(:mod:`otpgate.service.passkey_removal`). A first passkey turns 2FA on and issues recovery
codes. Every change is audited (and mailed).

Public keys are stored sealed like OTP secrets and bound to their owner; the WebAuthn
user handle is random per user, never the username. Challenges live in the web session
(:mod:`otpgate.service._passkey_challenge`), ``session_id`` being its id hash.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from otpgate.service import _webauthn as wa
from otpgate.service._convert import has_active_credential, passkey_view
from otpgate.service._passkey_challenge import put_challenge, take_challenge
from otpgate.service._passkey_check import key_context, known_keys
from otpgate.service._stepup import require_fresh_step_up
from otpgate.service._tx import check_id, load_active_user, unit_of_work
from otpgate.service.audit import AuditKind, record
from otpgate.service.authenticators import factor_name
from otpgate.service.errors import (
    NotFound,
    PasskeyReason,
    PasskeyRejected,
)
from otpgate.service.notify import issuer_of
from otpgate.service.recovery import issue_recovery_codes
from otpgate.service.views import PasskeyView
from otpgate.store import repositories as repo
from otpgate.store.models import User, WebAuthnCredential

if TYPE_CHECKING:
    from otpgate.service.context import Context, Origin

__all__ = [
    "USER_HANDLE_BYTES",
    "list_passkeys",
    "own_passkey",
    "register_passkey",
    "registration_options",
    "rename_passkey",
    "require_passkeys",
    "require_step_up",
]

# WebAuthn allows up to 64; 32 random bytes can never collide in practice.
USER_HANDLE_BYTES = 32


def require_passkeys(ctx: Context) -> None:
    """:class:`PasskeyRejected` (``NOT_ALLOWED``) unless the portal's address allows passkeys."""
    if not ctx.settings.passkeys.enabled:
        raise PasskeyRejected(PasskeyReason.NOT_ALLOWED)


def require_step_up(ctx: Context, step_up_at: datetime | None) -> None:
    """:class:`StepUpRequired` unless the password was confirmed lately (adding a passkey
    needs it, as adding an authenticator does)."""
    require_passkeys(ctx)
    require_fresh_step_up(ctx, step_up_at)


def _user_handle(session: Session, ctx: Context, user: User) -> bytes:
    handle = repo.user_handle_of(session, user.id)
    if handle is None:
        handle = repo.add_user_handle(
            session, user.id, secrets.token_bytes(USER_HANDLE_BYTES), ctx.now_dt()
        )
    return handle


def registration_options(
    ctx: Context, user_id: int, session_id: str, *, step_up_at: datetime | None
) -> str:
    """Options (JSON) for ``navigator.credentials.create``; needs a fresh step-up."""
    require_passkeys(ctx)
    require_fresh_step_up(ctx, step_up_at)
    with unit_of_work(ctx) as session:
        user = load_active_user(session, user_id)
        options, challenge = wa.registration_options(
            ctx.settings.passkeys,
            issuer_of(session, ctx),
            _user_handle(session, ctx, user),
            user.username,
            user.display_name,
            known_keys(repo.passkeys_of(session, user.id)),
        )
        put_challenge(session, ctx, session_id, "register", challenge, user.id)
        return options


def register_passkey(  # noqa: PLR0917 - the adapters' contract
    ctx: Context,
    origin: Origin,
    user_id: int,
    session_id: str,
    response: object,
    name: object,
    *,
    step_up_at: datetime | None,
) -> list[str]:
    """Store the new passkey of the browser's answer under ``name``.

    Returns new recovery codes (to show once) when this turns 2FA on, else []. Raises
    :class:`StepUpRequired`, :class:`InvalidInput` (name), :class:`PasskeyRejected`
    (``INVALID``, ``EXPIRED``), :class:`Conflict` (a key registered already).
    """
    require_passkeys(ctx)
    label = factor_name(name, "passkey")
    require_fresh_step_up(ctx, step_up_at)
    failure: PasskeyRejected | None = None
    with unit_of_work(ctx) as session:
        user = load_active_user(session, user_id)
        challenge = take_challenge(session, ctx, session_id, "register", user.id)
        try:
            if challenge is None:
                raise PasskeyRejected(PasskeyReason.EXPIRED)
            new = wa.verify_new_key(ctx.settings.passkeys, response, challenge)
        except PasskeyRejected as exc:
            failure = exc  # the used challenge is committed, then the refusal raised
        else:
            return _store(session, ctx, origin, user, new, label)
    assert failure is not None
    raise failure


def _store(  # noqa: PLR0917
    session: Session, ctx: Context, origin: Origin, user: User, new: wa.NewKey, label: str
) -> list[str]:
    first = not has_active_credential(session, user.id)
    key_id, sealed = ctx.keyring.seal(
        new.public_key, context=key_context(user.id, new.credential_id)
    )
    key = repo.add_passkey(
        session,
        user_id=user.id,
        credential_id=new.credential_id,
        public_key_sealed=sealed,
        key_id=key_id,
        sign_count=new.sign_count,
        transports=",".join(new.transports)[:200],
        aaguid=new.aaguid,
        backup_eligible=new.backup_eligible,
        backed_up=new.backed_up,
        name=label,
        created_at=ctx.now_dt(),
    )
    detail = {
        "passkey_id": key.id,
        "name": label,
        "kind": "passkey" if new.backup_eligible else "security_key",
        "aaguid": new.aaguid,
    }
    record(session, ctx, origin, AuditKind.PASSKEY_ADDED, actor=user, subject=user,
           detail=detail)
    if not first:
        return []
    codes = issue_recovery_codes(session, ctx, user)
    record(session, ctx, origin, AuditKind.TWOFA_ENABLED, actor=user, subject=user,
           detail={**detail, "kind": "passkey"})
    return codes


def list_passkeys(ctx: Context, user_id: int) -> list[PasskeyView]:
    """The user's passkeys, oldest first."""
    with unit_of_work(ctx) as session:
        user = load_active_user(session, user_id)
        return [passkey_view(k) for k in repo.passkeys_of(session, user.id)]


def own_passkey(session: Session, user: User, passkey_id: object) -> WebAuthnCredential:
    """The user's passkey with this id; :class:`NotFound` for another's or none."""
    key = repo.get_passkey(session, check_id(passkey_id, "passkey id"))
    if key is None or key.user_id != user.id:
        raise NotFound("No such passkey.")
    return key


def rename_passkey(
    ctx: Context, origin: Origin, user_id: int, passkey_id: int, name: object
) -> PasskeyView:
    """Give a passkey a new (non-empty) name; audited with the old one."""
    label = factor_name(name, "passkey")
    with unit_of_work(ctx) as session:
        user = load_active_user(session, user_id)
        key = own_passkey(session, user, passkey_id)
        old, key.name = key.name, label
        record(session, ctx, origin, AuditKind.PASSKEY_RENAMED, actor=user, subject=user,
               detail={"passkey_id": key.id, "old": old, "name": label})
        session.flush()
        return passkey_view(key)
