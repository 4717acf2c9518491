"""Pending WebAuthn challenges: kept in the server-side web session, used once.

A challenge is bound to the session that asked for it, to one purpose (register, second
step, passwordless sign-in, confirm a removal) and to one user, and lives
:data:`~otpgate.service._webauthn.TIMEOUT_SECONDS`. Taking it removes it in the caller's
transaction, under the session row's lock: whatever the answer, a challenge never
verifies twice (the caller commits the removal even when it refuses the answer).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from sqlalchemy.orm import Session
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

from otpgate.service._webauthn import TIMEOUT_SECONDS
from otpgate.service.errors import InvalidInput, PasskeyReason, PasskeyRejected
from otpgate.store import repositories as repo

if TYPE_CHECKING:
    from otpgate.service.context import Context

__all__ = ["Purpose", "put_challenge", "take_challenge"]

Purpose = Literal["register", "second_step", "passwordless", "remove"]
_KEY = "passkey_challenge"


def _id_hash(session_id: object) -> str:
    if not isinstance(session_id, str) or not 0 < len(session_id) <= 128:
        raise InvalidInput("A web session is needed for passkeys.")
    return session_id


def put_challenge(  # noqa: PLR0917
    session: Session,
    ctx: Context,
    session_id: str,
    purpose: Purpose,
    challenge: bytes,
    user_id: int | None,
    target: int | None = None,
) -> None:
    """Remember ``challenge`` in the web session (replacing any pending one)."""
    row = repo.lock_session(session, _id_hash(session_id))
    if row is None:
        raise PasskeyRejected(PasskeyReason.EXPIRED)
    data = dict(row.data or {})
    data[_KEY] = {
        "purpose": purpose,
        "challenge": bytes_to_base64url(challenge),
        "at": ctx.clock.now(),
        "user_id": user_id,
        "target": target,
    }
    row.data = data  # a new dict, so the JSON column is seen as changed


def take_challenge(  # noqa: PLR0917
    session: Session,
    ctx: Context,
    session_id: str,
    purpose: Purpose,
    user_id: int | None,
    target: int | None = None,
) -> bytes | None:
    """Remove the session's pending challenge and return it if it is for this purpose,
    user and target and still fresh; else None (the caller commits, then refuses)."""
    row = repo.lock_session(session, _id_hash(session_id))
    pending = (row.data or {}).get(_KEY) if row is not None else None
    if row is None or not isinstance(pending, dict):
        return None
    row.data = {k: v for k, v in (row.data or {}).items() if k != _KEY}
    session.flush()
    age = ctx.clock.now() - float(pending.get("at", 0))
    fits = (
        pending.get("purpose") == purpose
        and pending.get("user_id") == user_id
        and pending.get("target") == target
        and -5 <= age <= TIMEOUT_SECONDS
    )
    return base64url_to_bytes(str(pending.get("challenge", ""))) if fits else None
