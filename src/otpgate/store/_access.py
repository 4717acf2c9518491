"""Repositories of trusted devices, web sessions and API tokens (re-exported by repositories).

Rows are returned as stored: whether a device, session or token is still valid
(expired, revoked) is the service's decision.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from otpgate.store._common import insert_row, rowcount
from otpgate.store.models import ApiToken, TrustedDevice, WebSession

__all__ = [
    "add_api_token",
    "add_session",
    "add_trusted_device",
    "delete_expired_sessions",
    "delete_session",
    "delete_sessions_of",
    "delete_trusted_devices",
    "find_api_token",
    "find_trusted_device",
    "get_session",
    "list_api_tokens",
    "revoke_all_devices",
    "revoke_api_token",
    "revoke_trusted_device",
    "trusted_devices_of",
]


# --- trusted devices -------------------------------------------------------------------


def add_trusted_device(
    s: Session,
    *,
    user_id: int,
    token_hash: str,
    created_at: datetime,
    expires_at: datetime,
    name: str = "",
    client_addr: str = "",
    last_used_at: datetime | None = None,
    revoked_at: datetime | None = None,
) -> TrustedDevice:
    """Insert a trusted device (its token hashed). Conflict on a duplicate hash."""
    return insert_row(
        s,
        TrustedDevice(
            user_id=user_id,
            token_hash=token_hash,
            created_at=created_at,
            expires_at=expires_at,
            name=name,
            client_addr=client_addr,
            last_used_at=last_used_at,
            revoked_at=revoked_at,
        ),
    )


def find_trusted_device(s: Session, user_id: int, token_hash: str) -> TrustedDevice | None:
    """The user's device with this token hash (even if revoked or expired), or None."""
    query = select(TrustedDevice).where(
        TrustedDevice.user_id == user_id, TrustedDevice.token_hash == token_hash
    )
    return s.scalars(query).one_or_none()


def trusted_devices_of(
    s: Session, user_id: int, *, include_revoked: bool = False
) -> list[TrustedDevice]:
    """The user's devices, newest first; revoked ones only if asked for."""
    query = select(TrustedDevice).where(TrustedDevice.user_id == user_id)
    if not include_revoked:
        query = query.where(TrustedDevice.revoked_at.is_(None))
    return list(s.scalars(query.order_by(TrustedDevice.created_at.desc(), TrustedDevice.id.desc())))


def revoke_trusted_device(s: Session, user_id: int, device_id: int, now: datetime) -> bool:
    """Revoke one of the user's devices; True iff it existed and was not yet revoked."""
    statement = (
        update(TrustedDevice)
        .where(
            TrustedDevice.id == device_id,
            TrustedDevice.user_id == user_id,
            TrustedDevice.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    return rowcount(s, statement) == 1


def revoke_all_devices(s: Session, user_id: int, now: datetime) -> int:
    """Revoke every device of the user not yet revoked; how many."""
    statement = (
        update(TrustedDevice)
        .where(TrustedDevice.user_id == user_id, TrustedDevice.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return rowcount(s, statement)


def delete_trusted_devices(s: Session, user_id: int) -> int:
    """Delete every device of the user, revoked or not; how many."""
    return rowcount(s, delete(TrustedDevice).where(TrustedDevice.user_id == user_id))


# --- web sessions ----------------------------------------------------------------------


def add_session(
    s: Session,
    *,
    id_hash: str,
    created_at: datetime,
    last_seen_at: datetime,
    expires_at: datetime,
    user_id: int | None = None,
    level: str = "anonymous",
    data: dict[str, Any] | None = None,
    client_addr: str = "",
    user_agent: str = "",
    step_up_at: datetime | None = None,
) -> WebSession:
    """Insert a server-side session (keyed by the hash of the cookie's id).

    ``data`` is stored as JSON; to change it later, assign a new dict to
    ``row.data`` (changes made inside the dict in place are not seen).
    """
    return insert_row(
        s,
        WebSession(
            id_hash=id_hash,
            created_at=created_at,
            last_seen_at=last_seen_at,
            expires_at=expires_at,
            user_id=user_id,
            level=level,
            data=dict(data) if data else {},
            client_addr=client_addr,
            user_agent=user_agent,
            step_up_at=step_up_at,
        ),
    )


def get_session(s: Session, id_hash: str) -> WebSession | None:
    """The session with this id hash (even if expired), or None."""
    return s.get(WebSession, id_hash)


def delete_session(s: Session, id_hash: str) -> bool:
    """Delete one session; True iff it existed."""
    return rowcount(s, delete(WebSession).where(WebSession.id_hash == id_hash)) == 1


def delete_sessions_of(s: Session, user_id: int, *, keep: str | None = None) -> int:
    """Delete the user's sessions, except the one whose id hash is ``keep``; how many."""
    statement = delete(WebSession).where(WebSession.user_id == user_id)
    if keep is not None:
        statement = statement.where(WebSession.id_hash != keep)
    return rowcount(s, statement)


def delete_expired_sessions(s: Session, now: datetime) -> int:
    """Delete sessions whose ``expires_at`` is at or before ``now``; how many."""
    return rowcount(s, delete(WebSession).where(WebSession.expires_at <= now))


# --- API tokens ------------------------------------------------------------------------


def add_api_token(
    s: Session,
    *,
    name: str,
    token_hash: str,
    scopes: str,
    created_at: datetime,
    created_by: str = "",
    last_used_at: datetime | None = None,
    revoked_at: datetime | None = None,
) -> ApiToken:
    """Insert an API token (hashed; ``scopes`` space-separated). Conflict on a duplicate."""
    return insert_row(
        s,
        ApiToken(
            name=name,
            token_hash=token_hash,
            scopes=scopes,
            created_at=created_at,
            created_by=created_by,
            last_used_at=last_used_at,
            revoked_at=revoked_at,
        ),
    )


def find_api_token(s: Session, token_hash: str) -> ApiToken | None:
    """The token with this hash (even if revoked), or None."""
    return s.scalars(select(ApiToken).where(ApiToken.token_hash == token_hash)).one_or_none()


def list_api_tokens(s: Session) -> list[ApiToken]:
    """Every API token, revoked ones included, oldest first."""
    return list(s.scalars(select(ApiToken).order_by(ApiToken.id)))


def revoke_api_token(s: Session, token_id: int, now: datetime) -> bool:
    """Revoke a token; True iff it existed and was not yet revoked."""
    statement = (
        update(ApiToken)
        .where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return rowcount(s, statement) == 1
