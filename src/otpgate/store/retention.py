"""Bounded deletes of rows that are no longer needed: one batch per call.

Each function deletes at most ``limit`` rows chosen by primary key, so a caller can
purge a large backlog in short transactions that never hold many locks (logins go on
between batches). Which rows are old enough is the service layer's decision: these
functions take the cut-off times.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from otpgate.store._common import rowcount
from otpgate.store.models import (
    AuditEvent,
    OtpCredential,
    OutboxMail,
    Throttle,
    WebSession,
)

__all__ = [
    "delete_audit_before",
    "delete_dead_sessions",
    "delete_expired_enrolments",
    "delete_finished_mail",
    "delete_forgotten_throttles",
]


def _delete_batch(
    s: Session, key: InstrumentedAttribute[Any], where: ColumnElement[bool], limit: int
) -> int:
    chosen = select(key).where(where).limit(limit).scalar_subquery()
    table = key.class_
    return rowcount(s, delete(table).where(key.in_(chosen)), sync=False)


def delete_dead_sessions(
    s: Session, *, now: datetime, idle_before: datetime, limit: int
) -> int:
    """Sessions past their absolute expiry or unused since ``idle_before``."""
    dead = or_(WebSession.expires_at <= now, WebSession.last_seen_at <= idle_before)
    return _delete_batch(s, WebSession.id_hash, dead, limit)


def delete_expired_enrolments(s: Session, *, now: datetime, limit: int) -> int:
    """Pending (never confirmed) authenticators whose time to confirm has passed."""
    expired = and_(
        OtpCredential.status == "pending",
        OtpCredential.expires_at.is_not(None),
        OtpCredential.expires_at <= now,
    )
    return _delete_batch(s, OtpCredential.id, expired, limit)


def delete_forgotten_throttles(
    s: Session, *, now: datetime, last_failure_before: datetime, limit: int
) -> int:
    """Failure counters idle since ``last_failure_before`` whose lock (if any) is over."""
    forgotten = and_(
        Throttle.last_failure_at < last_failure_before,
        or_(Throttle.locked_until.is_(None), Throttle.locked_until <= now),
    )
    return _delete_batch(s, Throttle.scope, forgotten, limit)


def delete_finished_mail(
    s: Session, *, sent_before: datetime, dead_before: datetime, limit: int
) -> int:
    """Delivered mails sent before ``sent_before`` and given-up ones created before
    ``dead_before``; queued and in-flight ones are never touched."""
    finished = or_(
        and_(OutboxMail.status == "sent", OutboxMail.sent_at < sent_before),
        and_(OutboxMail.status == "dead", OutboxMail.created_at < dead_before),
    )
    return _delete_batch(s, OutboxMail.id, finished, limit)


def delete_audit_before(s: Session, *, before: datetime, limit: int) -> int:
    """Audit rows older than ``before``."""
    return _delete_batch(s, AuditEvent.id, AuditEvent.at < before, limit)
