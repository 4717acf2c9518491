"""Repositories of the e-mail outbox (re-exported by repositories).

Sending is at-least-once: a sender *claims* due rows in one short transaction (status
``sending`` under its claim token), sends outside any transaction, then marks each row
with its claim token, so a sender whose claim went stale cannot overwrite a newer one.
Claims are exclusive across processes: PostgreSQL takes the rows with
``SELECT … FOR UPDATE SKIP LOCKED`` (concurrent senders take different rows instead of
waiting); SQLite runs one conditional UPDATE (writers are serialised by its lock).
The back-off policy belongs to the service layer; these functions only store its result.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session

from otpgate.store._common import insert_row, rowcount
from otpgate.store.models import AuditEvent, OutboxMail

__all__ = [
    "audit_sightings",
    "claim_mail",
    "count_mail_by_status",
    "enqueue_mail",
    "list_mail",
    "mark_mail_failed",
    "mark_mail_sent",
]


def enqueue_mail(
    s: Session,
    *,
    recipient: str,
    kind: str,
    subject: str,
    body_text: str,
    body_html: str,
    now: datetime,
    user_id: int | None = None,
    locale: str = "en",
) -> OutboxMail:
    """Queue one message, due at once, in the caller's transaction."""
    return insert_row(
        s,
        OutboxMail(
            user_id=user_id,
            recipient=recipient,
            kind=kind,
            locale=locale,
            subject=subject,
            body_text=body_text,
            body_html=body_html,
            status="queued",
            attempts=0,
            last_error="",
            claim="",
            created_at=now,
            next_attempt_at=now,
        ),
    )


def _due(now: datetime, stale_before: datetime) -> ColumnElement[bool]:
    # A "sending" row whose claim is older than the lease was left by a sender that died.
    return or_(
        and_(OutboxMail.status == "queued", OutboxMail.next_attempt_at <= now),
        and_(OutboxMail.status == "sending", OutboxMail.claimed_at < stale_before),
    )


def claim_mail(
    s: Session, *, claim: str, now: datetime, stale_before: datetime, limit: int = 20
) -> list[OutboxMail]:
    """Take up to ``limit`` due messages for the sender ``claim``; their attempt is counted.

    Commit right after: the claim is what keeps other senders off these rows.
    """
    due = _due(now, stale_before)
    oldest_first = (OutboxMail.next_attempt_at, OutboxMail.id)
    if s.get_bind().dialect.name == "postgresql":
        ids = list(
            s.scalars(
                select(OutboxMail.id)
                .where(due)
                .order_by(*oldest_first)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        if not ids:
            return []
        target: ColumnElement[bool] = OutboxMail.id.in_(ids)
    else:
        target = and_(
            OutboxMail.id.in_(select(OutboxMail.id).where(due).order_by(*oldest_first).limit(limit)),
            due,
        )
    statement = (
        update(OutboxMail)
        .where(target)
        .values(status="sending", claim=claim, claimed_at=now, attempts=OutboxMail.attempts + 1)
    )
    rowcount(s, statement, sync=False)
    query = select(OutboxMail).where(OutboxMail.claim == claim, OutboxMail.status == "sending")
    return list(
        s.scalars(query.order_by(OutboxMail.id), execution_options={"populate_existing": True})
    )


def _mine(message_id: int, claim: str) -> ColumnElement[bool]:
    return and_(
        OutboxMail.id == message_id, OutboxMail.claim == claim, OutboxMail.status == "sending"
    )


def mark_mail_sent(s: Session, message_id: int, claim: str, now: datetime) -> bool:
    """Record a delivery; False if the row is no longer under this claim."""
    statement = (
        update(OutboxMail)
        .where(_mine(message_id, claim))
        .values(status="sent", sent_at=now, last_error="", claim="")
    )
    return rowcount(s, statement, sync=False) == 1


def mark_mail_failed(
    s: Session, message_id: int, claim: str, *, error: str, retry_at: datetime | None
) -> bool:
    """Record a failed attempt: queued again for ``retry_at``, or dead when it is None."""
    values: dict[str, object] = {"last_error": error[:300], "claim": ""}
    if retry_at is None:
        values["status"] = "dead"
    else:
        values.update(status="queued", next_attempt_at=retry_at)
    statement = update(OutboxMail).where(_mine(message_id, claim)).values(**values)
    return rowcount(s, statement, sync=False) == 1


def list_mail(
    s: Session,
    *,
    status: str | None = None,
    user_id: int | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
) -> list[OutboxMail]:
    """Messages matching every filter given, newest first."""
    query = select(OutboxMail)
    if status is not None:
        query = query.where(OutboxMail.status == status)
    if user_id is not None:
        query = query.where(OutboxMail.user_id == user_id)
    if kind is not None:
        query = query.where(OutboxMail.kind == kind)
    if since is not None:
        query = query.where(OutboxMail.created_at >= since)
    return list(s.scalars(query.order_by(OutboxMail.id.desc()).limit(limit)))


def audit_sightings(
    s: Session,
    *,
    subject_id: int,
    kinds: Collection[str],
    since: datetime,
    before_id: int,
    source: str | None = None,
    client_addr: str | None = None,
    user_agent: str | None = None,
    limit: int = 50,
) -> list[AuditEvent]:
    """Earlier events of ``kinds`` about a user, from this source, address and agent if given.

    Only rows older than the event ``before_id`` count, so the event being written is not
    its own precedent. Newest first.
    """
    query = select(AuditEvent).where(
        AuditEvent.subject_id == subject_id,
        AuditEvent.kind.in_(list(kinds)),
        AuditEvent.at >= since,
        AuditEvent.id < before_id,
    )
    if source is not None:
        query = query.where(AuditEvent.source == source)
    if client_addr is not None:
        query = query.where(AuditEvent.client_addr == client_addr)
    if user_agent is not None:
        query = query.where(AuditEvent.user_agent == user_agent)
    return list(s.scalars(query.order_by(AuditEvent.id.desc()).limit(limit)))


def count_mail_by_status(s: Session) -> dict[str, int]:
    """The number of messages in each status (statuses with none are absent)."""
    rows = s.execute(select(OutboxMail.status, func.count()).group_by(OutboxMail.status))
    return {status: int(count) for status, count in rows}
