"""Retention: what the purge deletes, what it keeps, in batches, and the audited audit purge."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import ColumnElement, Engine, func, select

from otpgate.service import enrolment, login, retention
from otpgate.service import web_sessions as ws
from otpgate.service.context import Context, Origin
from otpgate.service.errors import CodeRejected
from otpgate.service.views import UserView
from otpgate.store import repositories as repo
from otpgate.store.db import transaction
from otpgate.store.models import AuditEvent, Base, OtpCredential, OutboxMail, Throttle, WebSession

from .twofa import clock_of, enrol, wrong_code

DAY = 86400


def _count(engine: Engine, model: type[Base], *where: ColumnElement[bool]) -> int:
    with engine.connect() as conn:
        query = select(func.count()).select_from(model).where(*where)
        return int(conn.scalar(query) or 0)


def _queue_mail(ctx: Context, status: str) -> None:
    now = ctx.now_dt()
    with transaction(ctx.session_factory) as s:
        row = repo.enqueue_mail(s, recipient="a@example.org", kind="test", subject="s",
                                body_text="t", body_html="h", now=now)
        row.status = status
        row.sent_at = now if status == "sent" else None


def test_purge_deletes_only_what_nothing_can_use_any_more(
    ctx: Context, engine: Engine, web: Origin, cli: Origin, make_user: Callable[..., UserView]
) -> None:
    """Expired sessions, stale enrolments, forgotten throttles and old mails go; live ones,
    active authenticators, queued mails and (by default) every audit row stay."""
    clock = clock_of(ctx)
    alice = make_user("alice")
    enrolled = enrol(ctx, web, alice.id)
    ws.start_session(ctx, web)  # anonymous: dies after the idle time (1 h)
    with pytest.raises(CodeRejected):
        login.verify_code(ctx, web, alice.id, wrong_code(enrolled.totp, clock.now(), 1))
    enrolment.begin_enrolment(ctx, web, alice.id, step_up_at=ctx.now_dt())  # never confirmed
    _queue_mail(ctx, "sent")
    _queue_mail(ctx, "queued")
    audit_rows = _count(engine, AuditEvent)

    assert retention.purge(ctx, cli).total == 0  # nothing is old yet

    clock.advance(2 * 3600)
    ws.start_session(ctx, web)  # young: stays
    report = retention.purge(ctx, cli)
    assert (report.sessions, report.enrolments, report.throttles, report.mails) == (1, 1, 0, 0)
    assert _count(engine, WebSession) == 1
    assert _count(engine, OtpCredential, OtpCredential.status == "active") == 1
    assert _count(engine, OtpCredential, OtpCredential.status == "pending") == 0

    clock.advance(8 * DAY)  # past every throttle forget time and the sent-mail keep time
    report = retention.purge(ctx, cli)
    assert (report.sessions, report.throttles, report.mails, report.audit) == (1, 2, 1, 0)
    assert _count(engine, Throttle) == 0
    assert _count(engine, OutboxMail) == 1  # the queued one is never touched
    assert _count(engine, AuditEvent) == audit_rows
    # The authenticator still works after all that.
    clock.advance(30)
    assert login.verify_code(ctx, web, alice.id, enrolled.code(ctx)).method == "totp"


def test_a_locked_throttle_is_kept_until_its_lock_is_over(
    ctx: Context, engine: Engine, web: Origin, cli: Origin, make_user: Callable[..., UserView]
) -> None:
    """A counter whose lock still runs is not forgotten, however old its last failure."""
    now = ctx.now_dt()
    with transaction(ctx.session_factory) as s:
        row = repo.record_failure(s, "user:1|code", now)
        row.locked_until = now + timedelta(days=3)
    clock_of(ctx).advance(2 * DAY)
    assert retention.purge(ctx, cli).throttles == 0
    clock_of(ctx).advance(2 * DAY)
    assert retention.purge(ctx, cli).throttles == 1


def test_purge_works_through_a_backlog_in_small_batches(
    ctx: Context, engine: Engine, web: Origin, cli: Origin
) -> None:
    """A backlog larger than a batch is deleted completely, a batch at a time."""
    for _ in range(7):
        ws.start_session(ctx, web)
    clock_of(ctx).advance(2 * 3600)
    assert retention.purge(ctx, cli, batch_size=2).sessions == 7
    assert _count(engine, WebSession) == 0


def test_purge_stops_between_batches_when_asked(ctx: Context, web: Origin, cli: Origin) -> None:
    """A stopping server does not wait for the whole backlog."""
    for _ in range(5):
        ws.start_session(ctx, web)
    clock_of(ctx).advance(2 * 3600)
    asked = iter([False, True])
    report = retention.purge(ctx, cli, batch_size=2, stopping=lambda: next(asked, True))
    assert report.sessions == 2


def test_audit_retention_deletes_old_rows_and_audits_it(
    ctx: Context, engine: Engine, cli: Origin, make_user: Callable[..., UserView]
) -> None:
    """With OTPGATE_AUDIT_RETENTION_DAYS, older rows go and one audit.purged row says so."""
    make_user("old")
    clock_of(ctx).advance(100 * DAY)
    make_user("new")
    kept = ctx.settings.with_overrides(audit_retention_days=90)
    ctx.settings = kept
    report = retention.purge(ctx, cli)
    assert report.audit == 1
    with engine.connect() as conn:
        rows = conn.execute(select(AuditEvent.kind, AuditEvent.subject_name,
                                   AuditEvent.detail).order_by(AuditEvent.id)).all()
    assert [(k, n) for k, n, _ in rows] == [("user.created", "new"), ("audit.purged", "")]
    detail = rows[-1][2]
    assert detail["deleted"] == 1 and detail["retention_days"] == 90
    assert retention.purge(ctx, cli).audit == 0  # nothing left to delete: no new row
    assert _count(engine, AuditEvent, AuditEvent.kind == "audit.purged") == 1
