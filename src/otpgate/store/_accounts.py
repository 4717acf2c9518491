"""Repositories of users, OTP credentials and recovery codes (re-exported by repositories)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from otpgate.store._common import insert_all, insert_row, rowcount
from otpgate.store.models import OtpCredential, RecoveryCode, User

__all__ = [
    "add_credential",
    "add_recovery_codes",
    "add_user",
    "advance_last_step",
    "consume_recovery_code",
    "count_users",
    "credentials_not_under",
    "credentials_of",
    "delete_credential",
    "delete_credentials",
    "delete_expired_pending",
    "delete_recovery_codes",
    "find_user",
    "get_credential",
    "get_user",
    "lock_user",
    "recovery_codes_left",
    "search_users",
]


# --- users -----------------------------------------------------------------------------


def get_user(s: Session, user_id: int) -> User | None:
    """The user with this id, or None."""
    return s.get(User, user_id)


def lock_user(s: Session, user_id: int) -> None:
    """Hold the user's row lock until the transaction ends: attempts on one account's
    throttle counters then run one after the other, in every process.

    PostgreSQL: ``SELECT … FOR NO KEY UPDATE`` (not plain ``FOR UPDATE``, so inserting rows
    that refer to the user is not blocked). SQLite: nothing to do, every transaction
    already holds the database's write lock (``BEGIN IMMEDIATE``).
    """
    if s.get_bind().dialect.name == "sqlite":
        return
    s.execute(select(User.id).where(User.id == user_id).with_for_update(key_share=True))


def find_user(s: Session, username: str) -> User | None:
    """The user with this name, compared case-folded ("Alice" finds "alice"), or None."""
    return s.scalars(select(User).where(User.username == username.casefold())).one_or_none()


def add_user(
    s: Session,
    *,
    username: str,
    password_hash: str,
    created_at: datetime,
    password_changed_at: datetime | None = None,
    display_name: str = "",
    email: str = "",
    is_admin: bool = False,
    is_active: bool = True,
    locale: str | None = None,
) -> User:
    """Insert a user; the name is stored case-folded. Raises Conflict if it is taken."""
    return insert_row(
        s,
        User(
            username=username.casefold(),
            password_hash=password_hash,
            created_at=created_at,
            password_changed_at=password_changed_at or created_at,
            display_name=display_name,
            email=email,
            is_admin=is_admin,
            is_active=is_active,
            locale=locale,
        ),
    )


def search_users(s: Session, text: str = "", limit: int = 100, offset: int = 0) -> list[User]:
    """Users whose name, display name or e-mail contains ``text`` (any case), by name."""
    query = select(User).order_by(User.username).limit(limit).offset(offset)
    if text:
        query = query.where(
            or_(
                User.username.icontains(text, autoescape=True),
                User.display_name.icontains(text, autoescape=True),
                User.email.icontains(text, autoescape=True),
            )
        )
    return list(s.scalars(query))


def count_users(s: Session) -> int:
    """How many users exist (active or not)."""
    return s.scalar(select(func.count()).select_from(User)) or 0


# --- OTP credentials -------------------------------------------------------------------


def credentials_of(s: Session, user_id: int, status: str | None = "active") -> list[OtpCredential]:
    """The user's credentials with this status ("active", "pending"; None = all), oldest first."""
    query = select(OtpCredential).where(OtpCredential.user_id == user_id)
    if status is not None:
        query = query.where(OtpCredential.status == status)
    return list(s.scalars(query.order_by(OtpCredential.id)))


def get_credential(s: Session, cred_id: int) -> OtpCredential | None:
    """The credential with this id, or None. The caller checks whom it belongs to."""
    return s.get(OtpCredential, cred_id)


def add_credential(
    s: Session,
    *,
    user_id: int,
    kind: str,
    status: str,
    secret_sealed: bytes,
    key_id: str,
    created_at: datetime,
    name: str = "",
    algorithm: str = "SHA1",
    digits: int = 6,
    period: int = 30,
    last_step: int = -1,
    drift_seconds: float = 0.0,
    expires_at: datetime | None = None,
    confirmed_at: datetime | None = None,
    last_used_at: datetime | None = None,
) -> OtpCredential:
    """Insert a credential (its secret already sealed). Raises Conflict for an unknown user."""
    return insert_row(
        s,
        OtpCredential(
            user_id=user_id,
            kind=kind,
            status=status,
            secret_sealed=secret_sealed,
            key_id=key_id,
            created_at=created_at,
            name=name,
            algorithm=algorithm,
            digits=digits,
            period=period,
            last_step=last_step,
            drift_seconds=drift_seconds,
            expires_at=expires_at,
            confirmed_at=confirmed_at,
            last_used_at=last_used_at,
        ),
    )


def advance_last_step(
    s: Session, cred_id: int, step: int, *, now: datetime, drift_seconds: float
) -> bool:
    """Record ``step`` as accepted for an active credential; True iff it was newer.

    This is the replay guard: one conditional UPDATE, so of several transactions (in
    any processes) that try the same step, exactly one sees True. It also records when
    the credential was used and its drift.
    """
    changed = rowcount(
        s,
        update(OtpCredential)
        .where(
            OtpCredential.id == cred_id,
            OtpCredential.last_step < step,
            OtpCredential.status == "active",
        )
        .values(last_step=step, last_used_at=now, drift_seconds=drift_seconds),
        # Not "evaluate": a copy loaded earlier may be stale, and the database decides.
        sync=False,
    )
    loaded = s.identity_map.get(s.identity_key(OtpCredential, cred_id))
    if changed and isinstance(loaded, OtpCredential):
        set_committed_value(loaded, "last_step", step)
        set_committed_value(loaded, "last_used_at", now)
        set_committed_value(loaded, "drift_seconds", drift_seconds)
    return changed == 1


def delete_credential(s: Session, user_id: int, cred_id: int) -> bool:
    """Delete one credential of this user; True iff it existed."""
    return (
        rowcount(
            s,
            delete(OtpCredential).where(
                OtpCredential.id == cred_id, OtpCredential.user_id == user_id
            ),
        )
        == 1
    )


def delete_credentials(s: Session, user_id: int) -> int:
    """Delete all the user's credentials, pending and active; how many there were."""
    return rowcount(s, delete(OtpCredential).where(OtpCredential.user_id == user_id))


def delete_expired_pending(s: Session, now: datetime) -> int:
    """Delete pending credentials whose ``expires_at`` is at or before ``now``."""
    return rowcount(
        s,
        delete(OtpCredential).where(
            OtpCredential.status == "pending",
            OtpCredential.expires_at.is_not(None),
            OtpCredential.expires_at <= now,
        ),
    )


def credentials_not_under(s: Session, key_id: str, limit: int) -> list[OtpCredential]:
    """Up to ``limit`` credentials sealed under another key than ``key_id``, by id."""
    query = (
        select(OtpCredential)
        .where(OtpCredential.key_id != key_id)
        .order_by(OtpCredential.id)
        .limit(limit)
    )
    return list(s.scalars(query))


# --- recovery codes --------------------------------------------------------------------


def add_recovery_codes(
    s: Session, user_id: int, hashes: Iterable[str], now: datetime, *, key_id: str | None = None
) -> int:
    """Store hashed recovery codes for the user (``key_id``: the key of their keyed hash);
    how many. Conflict on a duplicate hash."""
    rows = [
        RecoveryCode(user_id=user_id, code_hash=h, key_id=key_id, created_at=now) for h in hashes
    ]
    insert_all(s, rows)
    return len(rows)


def consume_recovery_code(
    s: Session, user_id: int, code_hashes: str | Collection[str], now: datetime
) -> bool:
    """Mark the user's unused code stored under this hash, or under one of these hashes
    (the forms one code may be stored in), as used; True iff one was.

    One conditional UPDATE (``… AND used_at IS NULL``): of concurrent attempts with the
    same code, exactly one succeeds.
    """
    changed = rowcount(
        s,
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user_id,
            RecoveryCode.code_hash.in_(
                [code_hashes] if isinstance(code_hashes, str) else list(code_hashes)
            ),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=now),
        sync=False,
    )
    return changed == 1


def recovery_codes_left(s: Session, user_id: int) -> int:
    """How many of the user's recovery codes are still unused."""
    query = select(func.count()).where(
        RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)
    )
    return s.scalar(query) or 0


def delete_recovery_codes(s: Session, user_id: int) -> int:
    """Delete all the user's recovery codes, used or not; how many there were."""
    return rowcount(s, delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
