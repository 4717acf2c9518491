"""Repositories of throttles, audit events and run-time settings (re-exported by repositories)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session

from otpgate.store._common import rowcount, upsert
from otpgate.store.errors import InvalidValue
from otpgate.store.models import AppSetting, AuditEvent, Throttle

__all__ = [
    "add_audit",
    "clear_throttle",
    "clear_throttles_like",
    "delete_setting",
    "delete_settings_like",
    "get_setting",
    "get_throttle",
    "get_throttles",
    "query_audit",
    "record_failure",
    "set_lock",
    "set_setting",
    "settings_like",
]


# --- throttles -------------------------------------------------------------------------


def get_throttle(s: Session, scope: str) -> Throttle | None:
    """The failure counter of ``scope``, or None if it has no failure recorded."""
    return s.get(Throttle, scope)


def get_throttles(s: Session, scopes: Sequence[str]) -> dict[str, Throttle]:
    """The counters of those ``scopes`` that have one, read fresh in one query."""
    query = select(Throttle).where(Throttle.scope.in_(list(scopes)))
    rows = s.scalars(query, execution_options={"populate_existing": True})
    return {row.scope: row for row in rows}


def record_failure(s: Session, scope: str, now: datetime) -> Throttle:
    """Count one more failure for ``scope`` and return the counter as it is now.

    One ``INSERT … ON CONFLICT DO UPDATE SET failures = failures + 1 … RETURNING``: a
    counter shared by concurrent processes loses no failure and is never created twice.
    """
    insert = upsert(s, Throttle).values(
        scope=scope, failures=1, first_failure_at=now, last_failure_at=now
    )
    statement = insert.on_conflict_do_update(
        index_elements=[Throttle.scope],
        set_={
            "failures": Throttle.failures + 1,
            "last_failure_at": insert.excluded.last_failure_at,
        },
    ).returning(Throttle)
    row: Throttle = s.scalars(statement, execution_options={"populate_existing": True}).one()
    return row


def set_lock(s: Session, scope: str, until: datetime | None) -> bool:
    """Set (or with None, lift) the lock of ``scope``; True iff the scope has a counter."""
    statement = update(Throttle).where(Throttle.scope == scope).values(locked_until=until)
    return rowcount(s, statement) == 1


def clear_throttle(s: Session, scope: str) -> bool:
    """Forget the failures and lock of ``scope``; True iff there were any."""
    return rowcount(s, delete(Throttle).where(Throttle.scope == scope)) == 1


def clear_throttles_like(s: Session, prefix: str) -> int:
    """Forget every scope that starts with ``prefix`` (taken literally, "" = all); how many."""
    statement = delete(Throttle).where(Throttle.scope.startswith(prefix, autoescape=True))
    return rowcount(s, statement)


# --- audit events ----------------------------------------------------------------------


def add_audit(
    s: Session,
    *,
    at: datetime,
    kind: str,
    source: str = "",
    actor_id: int | None = None,
    actor_name: str = "",
    subject_id: int | None = None,
    subject_name: str = "",
    client_addr: str = "",
    user_agent: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event; ``detail`` must be JSON-serialisable.

    Unlike the other inserts, no SAVEPOINT: an audit row has no unique key and refers to
    no row, so only a value too long for its column can fail (:class:`InvalidValue`), and
    the use case then fails as a whole. Every code check writes one, so the two extra
    statements would be paid on the busiest path.
    """
    row = AuditEvent(
        at=at,
        kind=kind,
        source=source,
        actor_id=actor_id,
        actor_name=actor_name,
        subject_id=subject_id,
        subject_name=subject_name,
        client_addr=client_addr,
        user_agent=user_agent,
        detail=dict(detail) if detail else {},
    )
    s.add(row)
    try:
        s.flush()
    except DataError:
        raise InvalidValue("audit_events: a value does not fit its column") from None
    return row


def query_audit(
    s: Session,
    *,
    subject_id: int | None = None,
    subject_name: str | None = None,
    actor_id: int | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[AuditEvent]:
    """Audit events matching every filter given, newest first.

    ``since`` is inclusive and ``until`` exclusive, so consecutive windows do not overlap.
    """
    query = select(AuditEvent)
    if subject_id is not None:
        query = query.where(AuditEvent.subject_id == subject_id)
    if subject_name is not None:
        query = query.where(AuditEvent.subject_name == subject_name)
    if actor_id is not None:
        query = query.where(AuditEvent.actor_id == actor_id)
    if kind is not None:
        query = query.where(AuditEvent.kind == kind)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    if until is not None:
        query = query.where(AuditEvent.at < until)
    query = query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit).offset(offset)
    return list(s.scalars(query))


# --- run-time settings -----------------------------------------------------------------


def get_setting(s: Session, key: str) -> str | None:
    """The value of a run-time setting, or None if it was never set."""
    row = s.get(AppSetting, key)
    return None if row is None else row.value


def set_setting(s: Session, key: str, value: str) -> None:
    """Create or replace a run-time setting (one upsert: concurrent writers never clash)."""
    insert = upsert(s, AppSetting).values(key=key, value=value)
    s.execute(
        insert.on_conflict_do_update(
            index_elements=[AppSetting.key], set_={"value": insert.excluded.value}
        )
    )
    loaded = s.identity_map.get(s.identity_key(AppSetting, key))
    if loaded is not None:
        s.expire(loaded)


def delete_setting(s: Session, key: str) -> bool:
    """Remove a run-time setting; True iff it existed."""
    return rowcount(s, delete(AppSetting).where(AppSetting.key == key)) == 1


def settings_like(s: Session, prefix: str) -> dict[str, str]:
    """The run-time settings whose key starts with ``prefix`` (taken literally)."""
    query = select(AppSetting).where(AppSetting.key.startswith(prefix, autoescape=True))
    return {row.key: row.value for row in s.scalars(query)}


def delete_settings_like(s: Session, prefix: str) -> set[str]:
    """Remove the run-time settings whose key starts with ``prefix``; the keys removed.

    One DELETE: of concurrent callers, each row is removed (and reported) by one only.
    """
    statement = (
        delete(AppSetting)
        .where(AppSetting.key.startswith(prefix, autoescape=True))
        .returning(AppSetting.key)
    )
    return set(s.scalars(statement, execution_options={"synchronize_session": False}))
