"""Repositories of WebAuthn user handles and credentials (re-exported by repositories).

:func:`advance_sign_count` is the clone guard: one conditional UPDATE, so of two
assertions racing with the same counter at most one is accepted.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from otpgate.store._common import insert_row, rowcount
from otpgate.store.models import WebAuthnCredential, WebAuthnUser, WebSession

__all__ = [
    "add_passkey",
    "add_user_handle",
    "advance_sign_count",
    "count_passkeys",
    "delete_passkey",
    "delete_passkeys",
    "find_passkey",
    "find_user_handle",
    "get_passkey",
    "lock_session",
    "passkeys_not_under",
    "passkeys_of",
    "user_handle_of",
]


def user_handle_of(s: Session, user_id: int) -> bytes | None:
    """The user's WebAuthn user handle, or None before their first passkey."""
    row = s.get(WebAuthnUser, user_id)
    return row.user_handle if row is not None else None


def add_user_handle(s: Session, user_id: int, handle: bytes, now: datetime) -> bytes:
    """Store the user's handle. Raises Conflict if the user has one, or the handle is taken."""
    insert_row(s, WebAuthnUser(user_id=user_id, user_handle=handle, created_at=now))
    return handle


def find_user_handle(s: Session, handle: bytes) -> int | None:
    """The id of the user with this handle, or None."""
    query = select(WebAuthnUser.user_id).where(WebAuthnUser.user_handle == handle)
    return s.scalars(query).one_or_none()


def passkeys_of(s: Session, user_id: int) -> list[WebAuthnCredential]:
    """The user's passkeys, oldest first."""
    query = select(WebAuthnCredential).where(WebAuthnCredential.user_id == user_id)
    return list(s.scalars(query.order_by(WebAuthnCredential.id)))


def count_passkeys(s: Session, user_id: int) -> int:
    """How many passkeys the user has."""
    query = select(func.count()).where(WebAuthnCredential.user_id == user_id)
    return s.scalar(query) or 0


def get_passkey(s: Session, row_id: int) -> WebAuthnCredential | None:
    """The passkey row with this id, or None. The caller checks whom it belongs to."""
    return s.get(WebAuthnCredential, row_id)


def find_passkey(s: Session, credential_id: bytes) -> WebAuthnCredential | None:
    """The passkey with this authenticator credential id, or None."""
    query = select(WebAuthnCredential).where(WebAuthnCredential.credential_id == credential_id)
    return s.scalars(query).one_or_none()


def add_passkey(
    s: Session,
    *,
    user_id: int,
    credential_id: bytes,
    public_key_sealed: bytes,
    key_id: str,
    sign_count: int,
    transports: str,
    aaguid: str,
    backup_eligible: bool,
    backed_up: bool,
    name: str,
    created_at: datetime,
) -> WebAuthnCredential:
    """Insert a passkey (public key already sealed). Conflict if its credential id exists."""
    return insert_row(
        s,
        WebAuthnCredential(
            user_id=user_id,
            credential_id=credential_id,
            public_key_sealed=public_key_sealed,
            key_id=key_id,
            sign_count=sign_count,
            transports=transports,
            aaguid=aaguid,
            backup_eligible=backup_eligible,
            backed_up=backed_up,
            name=name,
            created_at=created_at,
        ),
    )


def advance_sign_count(
    s: Session, row_id: int, new_count: int, *, now: datetime, backed_up: bool
) -> bool:
    """Record a use of the passkey; True iff ``new_count`` is above the stored counter.

    Authenticators that keep no counter always send 0 (synced passkeys do): 0 after 0 is
    accepted. Any other counter that does not grow means a copy of the key is in use.
    """
    grows = (
        WebAuthnCredential.sign_count == 0
        if new_count == 0
        else WebAuthnCredential.sign_count < new_count
    )
    changed = rowcount(
        s,
        update(WebAuthnCredential)
        .where(WebAuthnCredential.id == row_id, grows)
        .values(sign_count=new_count, last_used_at=now, backed_up=backed_up),
        sync=False,
    )
    return changed == 1


def delete_passkey(s: Session, user_id: int, row_id: int) -> bool:
    """Delete one passkey of this user; True iff it existed."""
    statement = delete(WebAuthnCredential).where(
        WebAuthnCredential.id == row_id, WebAuthnCredential.user_id == user_id
    )
    return rowcount(s, statement) == 1


def delete_passkeys(s: Session, user_id: int) -> int:
    """Delete all the user's passkeys; how many there were."""
    return rowcount(s, delete(WebAuthnCredential).where(WebAuthnCredential.user_id == user_id))


def passkeys_not_under(s: Session, key_id: str, limit: int) -> list[WebAuthnCredential]:
    """Up to ``limit`` passkeys sealed under another key than ``key_id``, by id."""
    query = (
        select(WebAuthnCredential)
        .where(WebAuthnCredential.key_id != key_id)
        .order_by(WebAuthnCredential.id)
        .limit(limit)
    )
    return list(s.scalars(query))


def lock_session(s: Session, id_hash: str) -> WebSession | None:
    """The web session row, locked until the transaction ends (PostgreSQL ``FOR UPDATE``;
    SQLite's transaction already holds the write lock), so two requests of one session
    cannot both take the same pending challenge."""
    return s.get(WebSession, id_hash, with_for_update=True)
