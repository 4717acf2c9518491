"""The one check of a passkey assertion, shared by the second step, passwordless sign-in
and the proofs asked before removing a factor.

In the caller's transaction: take the session's challenge (used up whatever happens),
find the stored key by credential id (and, without a username, by the random user
handle), open its public key (sealed and bound to its owner and credential id), verify
the assertion with py_webauthn, then advance the signature counter with one conditional
UPDATE. A counter that does not grow means a cloned key: refused and audited as
``passkey.cloned``. Every refusal is returned (not raised), so the caller commits the used
challenge and the audit row, then raises.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from otpgate.security.errors import DecryptionFailed
from otpgate.service import _webauthn as wa
from otpgate.service._passkey_challenge import Purpose, take_challenge
from otpgate.service.audit import AuditKind, record
from otpgate.service.errors import KeyUnavailable, PasskeyReason, PasskeyRejected
from otpgate.store import repositories as repo
from otpgate.store.models import User, WebAuthnCredential

if TYPE_CHECKING:
    from otpgate.service.context import Context, Origin

__all__ = ["Ask", "check_assertion", "key_context", "known_keys"]


@dataclass(frozen=True)
class Ask:
    """What the caller expects of an assertion."""

    purpose: Purpose
    user: User | None  # None: passwordless, the key names its user
    verify_user: bool = False
    allowed: Collection[int] | None = None  # passkey row ids accepted; None = any of the user's
    target: int | None = None  # what the challenge was asked for (the passkey to remove)


def key_context(user_id: int, credential_id: bytes) -> bytes:
    """Associated data sealed with a public key: it opens only on its owner's row."""
    return b"webauthn-credential:%d:" % user_id + credential_id


def known_keys(keys: Collection[WebAuthnCredential]) -> list[wa.KnownKey]:
    """The keys as the browser options name them."""
    return [
        wa.KnownKey(k.credential_id, tuple(t for t in k.transports.split(",") if t))
        for k in keys
    ]


def _owner(session: Session, ask: Ask, key: WebAuthnCredential, handle: bytes | None) -> User:
    if ask.user is not None:
        if key.user_id != ask.user.id:
            raise PasskeyRejected(PasskeyReason.UNKNOWN)
        return ask.user
    # Passwordless: the key's user handle must be its owner's (not a username).
    if handle is None or repo.find_user_handle(session, handle) != key.user_id:
        raise PasskeyRejected(PasskeyReason.INVALID)
    owner = session.get(User, key.user_id)
    if owner is None or not owner.is_active:
        raise PasskeyRejected(PasskeyReason.UNKNOWN)
    return owner


def _verify(  # noqa: PLR0917
    session: Session,
    ctx: Context,
    origin: Origin,
    ask: Ask,
    response: object,
    challenge: bytes | None,
) -> tuple[User, WebAuthnCredential]:
    if challenge is None:
        raise PasskeyRejected(PasskeyReason.EXPIRED)
    assertion = wa.parse_assertion(response)
    key = repo.find_passkey(session, assertion.credential_id)
    if key is None or (ask.allowed is not None and key.id not in ask.allowed):
        raise PasskeyRejected(PasskeyReason.UNKNOWN)
    owner = _owner(session, ask, key, assertion.user_handle)
    try:
        public_key = ctx.keyring.open(
            key.key_id, key.public_key_sealed, context=key_context(owner.id, key.credential_id)
        )
    except DecryptionFailed:
        raise KeyUnavailable() from None
    result = wa.verify_assertion(
        ctx.settings.passkeys, assertion, challenge, public_key, verify_user=ask.verify_user
    )
    stored = key.sign_count
    if not repo.advance_sign_count(
        session, key.id, result.sign_count, now=ctx.now_dt(), backed_up=result.backed_up
    ):
        detail = {
            "passkey_id": key.id,
            "name": key.name,
            "stored_count": stored,
            "presented_count": result.sign_count,
        }
        record(
            session, ctx, origin, AuditKind.PASSKEY_CLONED, subject=owner, detail=detail
        )
        raise PasskeyRejected(PasskeyReason.CLONED)
    session.refresh(key)
    return owner, key


def check_assertion(  # noqa: PLR0917
    session: Session,
    ctx: Context,
    origin: Origin,
    session_id: str,
    ask: Ask,
    response: object,
) -> tuple[User, WebAuthnCredential] | PasskeyRejected:
    """The owner and key of a valid assertion, or the refusal to raise after commit.

    A refusal is audited as ``login.passkey_failed`` (with its reason);
    :class:`KeyUnavailable` is raised.
    """
    user_id = ask.user.id if ask.user is not None else None
    challenge = take_challenge(session, ctx, session_id, ask.purpose, user_id, ask.target)
    try:
        return _verify(session, ctx, origin, ask, response, challenge)
    except PasskeyRejected as refusal:
        detail = {"reason": str(refusal.reason), "purpose": ask.purpose}
        record(session, ctx, origin, AuditKind.PASSKEY_FAILED, subject=ask.user, detail=detail)
        return refusal
