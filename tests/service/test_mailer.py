"""The sender: SMTP modes, retries with back-off, giving up, exclusive claims, the worker."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from otpgate.service import audit, login, mailer
from otpgate.service.context import Context, Origin
from otpgate.service.errors import InvalidInput, MailDeliveryFailed, MailNotConfigured
from otpgate.service.views import UserView
from otpgate.store import repositories as repo
from otpgate.store.db import transaction
from otpgate.store.models import OutboxMail
from smtp_sink import free_port, make_tls_files, smtp_server

from .conftest import PASSWORD
from .mail_support import mail_settings, send_all
from .twofa import clock_of, enrol

ALICE = "alice@example.test"


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def mail_ctx(ctx: Context, port: int) -> Context:
    """The test context, with mail to 127.0.0.1:``port`` (no server there yet)."""
    ctx.settings = mail_settings(port)
    return ctx


@pytest.fixture
def alice(make_user: Callable[..., UserView]) -> UserView:
    return make_user("alice", email=ALICE)


def _rows(engine: Engine) -> list[OutboxMail]:
    with Session(engine) as s:
        return list(s.scalars(select(OutboxMail).order_by(OutboxMail.id)))


def _queue(ctx: Context, count: int) -> None:
    with transaction(ctx.session_factory) as s:
        for n in range(count):
            repo.enqueue_mail(
                s, recipient=f"user{n}@example.test", kind="test", subject=f"message {n}",
                body_text=f"text {n}", body_html=f"<p>html {n}</p>", now=ctx.now_dt(),
            )


def test_backoff_doubles_from_a_minute_and_is_capped() -> None:
    """Waits are 1, 2, 4 … minutes and never more than 6 hours."""
    assert [mailer.backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [60, 120, 240, 480]
    assert mailer.backoff(30) == timedelta(hours=6)


def test_with_the_server_down_login_works_and_the_mail_is_retried_later(
    mail_ctx: Context, web: Origin, alice: UserView, port: int, engine: Engine
) -> None:
    """SMTP down: sign-in is unaffected, the failure is audited, a later run delivers."""
    ctx = mail_ctx
    enrolled = enrol(ctx, web, alice.id)
    step = login.check_password(ctx, web, "alice", PASSWORD)
    assert step.needs_second_factor
    login.verify_code(ctx, web, alice.id, enrolled.code(ctx))
    assert send_all(ctx) == mailer.SendReport(sent=0, retrying=1, dead=0)
    [row] = _rows(engine)
    assert (row.status, row.attempts) == ("queued", 1)
    assert "ConnectionRefusedError" in row.last_error
    [failed] = audit.query_audit(ctx, kind="mail.failed")
    assert failed.subject_name == "alice"
    assert failed.detail["attempt"] == 1 and "retry_at" in failed.detail
    with smtp_server(port) as (sink, _):
        assert send_all(ctx).sent == 0  # not due before its back-off
        clock_of(ctx).advance(60)
        assert send_all(ctx).sent == 1
    assert [m.rcpt_tos for m in sink.received] == [[ALICE]]
    assert [r.status for r in _rows(engine)] == ["sent"]


def test_a_message_is_given_up_after_the_last_attempt(
    mail_ctx: Context, web: Origin, alice: UserView, port: int, engine: Engine
) -> None:
    """After MAX_ATTEMPTS failures the message is dead, audited once, and never sent."""
    ctx = mail_ctx
    enrol(ctx, web, alice.id)
    for attempt in range(1, mailer.MAX_ATTEMPTS + 1):
        report = send_all(ctx)
        assert report.dead == (1 if attempt == mailer.MAX_ATTEMPTS else 0)
        clock_of(ctx).advance(mailer.backoff(attempt).total_seconds())
    assert [r.status for r in _rows(engine)] == ["dead"]
    assert len(audit.query_audit(ctx, kind="mail.failed")) == mailer.MAX_ATTEMPTS - 1
    assert len(audit.query_audit(ctx, kind="mail.dead")) == 1
    with smtp_server(port) as (sink, _):
        clock_of(ctx).advance(86400)
        assert send_all(ctx) == mailer.SendReport()
    assert sink.received == []


def test_a_permanent_refusal_is_given_up_at_once(
    mail_ctx: Context, web: Origin, alice: UserView, port: int, engine: Engine
) -> None:
    """A 5xx refusal of the recipient makes the message dead on the first attempt."""
    with smtp_server(port) as (sink, _):
        sink.refuse.add(ALICE)
        enrol(mail_ctx, web, alice.id)
        assert send_all(mail_ctx).dead == 1
    [dead] = audit.query_audit(mail_ctx, kind="mail.dead")
    assert "SMTPRecipientsRefused" in dead.detail["error"]
    assert [r.status for r in _rows(engine)] == ["dead"]


@pytest.mark.filterwarnings("ignore:Session.login_data is deprecated")
def test_starttls_with_credentials(
    mail_ctx: Context, web: Origin, alice: UserView, port: int, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """STARTTLS with a verified certificate, then AUTH; the password is not in repr()."""
    tls = make_tls_files(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(tls.ca))
    mail_ctx.settings = mail_settings(
        port, smtp_security="starttls", smtp_user="mailer", smtp_password="pw for smtp"
    )
    assert "pw for smtp" not in repr(mail_ctx.settings)
    with smtp_server(port, tls=tls, users={"mailer": "pw for smtp"}) as (sink, _):
        enrol(mail_ctx, web, alice.id)
        assert send_all(mail_ctx).sent == 1
    assert sink.logins == ["mailer"]
    assert sink.received[0].rcpt_tos == [ALICE]


def test_implicit_tls(
    mail_ctx: Context, web: Origin, alice: UserView, port: int, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Security "tls" speaks TLS from the first byte (SMTPS)."""
    tls = make_tls_files(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(tls.ca))
    mail_ctx.settings = mail_settings(port, smtp_security="tls")
    with smtp_server(port, tls=tls, implicit_tls=True) as (sink, _):
        enrol(mail_ctx, web, alice.id)
        assert send_all(mail_ctx).sent == 1
    assert len(sink.received) == 1


@pytest.mark.filterwarnings("ignore:Session.login_data is deprecated")
def test_an_untrusted_certificate_is_refused_before_the_password_is_sent(
    mail_ctx: Context, web: Origin, alice: UserView, port: int, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A server certificate no CA vouches for fails the attempt; AUTH never happens."""
    tls = make_tls_files(tmp_path)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    mail_ctx.settings = mail_settings(
        port, smtp_security="starttls", smtp_user="mailer", smtp_password="pw for smtp"
    )
    with smtp_server(port, tls=tls, users={"mailer": "pw for smtp"}) as (sink, _):
        enrol(mail_ctx, web, alice.id)
        assert send_all(mail_ctx).retrying == 1
    assert sink.logins == [] and sink.received == []
    [failed] = audit.query_audit(mail_ctx, kind="mail.failed")
    assert "SSLCertVerificationError" in failed.detail["error"]


def test_two_concurrent_senders_send_each_message_once(mail_ctx: Context, port: int) -> None:
    """Two senders racing over one outbox deliver every message exactly once."""
    _queue(mail_ctx, 40)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            while mailer.send_pending(mail_ctx, Origin(source="cli"), limit=3).sent:
                pass
        except BaseException as exc:
            errors.append(exc)

    with smtp_server(port) as (sink, _):
        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert send_all(mail_ctx) == mailer.SendReport()  # nothing left behind
    assert errors == []
    counts = Counter(m.message["Subject"] for m in sink.received)
    assert len(counts) == 40 and set(counts.values()) == {1}


def test_claimed_rows_are_not_claimed_by_another_sender(mail_ctx: Context) -> None:
    """While one sender holds a claim, another gets only the other rows."""
    _queue(mail_ctx, 5)
    now = mail_ctx.now_dt()
    stale = now - mailer.CLAIM_LEASE
    factory = mail_ctx.session_factory
    first = factory()
    try:
        mine = repo.claim_mail(first, claim="a", now=now, stale_before=stale, limit=2)
        if first.get_bind().dialect.name == "sqlite":
            first.commit()  # SQLite has one writer at a time: the second claim waits
        with transaction(factory) as second:
            theirs = repo.claim_mail(second, claim="b", now=now, stale_before=stale, limit=10)
        first.commit()
    finally:
        first.close()
    assert len(mine) == 2 and len(theirs) == 3
    assert {m.id for m in mine}.isdisjoint(m.id for m in theirs)


def test_a_stale_claim_is_taken_over_and_the_old_sender_cannot_mark_it(
    mail_ctx: Context, port: int, engine: Engine
) -> None:
    """Rows claimed by a sender that died are sent after the lease; its late mark is ignored."""
    _queue(mail_ctx, 1)
    now = mail_ctx.now_dt()
    with transaction(mail_ctx.session_factory) as s:
        [row] = repo.claim_mail(s, claim="dead-sender", now=now, stale_before=now, limit=5)
    with smtp_server(port) as (sink, _):
        assert send_all(mail_ctx).sent == 0  # still under its lease
        clock_of(mail_ctx).advance(mailer.CLAIM_LEASE.total_seconds() + 1)
        assert send_all(mail_ctx).sent == 1
    with transaction(mail_ctx.session_factory) as s:
        assert not repo.mark_mail_sent(s, row.id, "dead-sender", mail_ctx.now_dt())
    assert len(sink.received) == 1
    assert [(r.status, r.attempts) for r in _rows(engine)] == [("sent", 2)]


def test_the_worker_thread_sends_queued_mail(mail_ctx: Context, port: int) -> None:
    """The background worker of ``otpgate serve`` delivers what is queued, then stops."""
    _queue(mail_ctx, 3)
    with smtp_server(port) as (sink, _):
        worker = mailer.MailWorker(mail_ctx, Origin(source="web"), interval=0.05)
        worker.start()
        try:
            deadline = time.monotonic() + 30
            while len(sink.received) < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            worker.stop()
    assert not worker.is_alive()
    assert sorted(m.message["Subject"] for m in sink.received) == [
        "message 0", "message 1", "message 2",
    ]


def test_send_test_delivers_at_once_or_says_why_not(mail_ctx: Context, port: int) -> None:
    """The test message skips the outbox: delivered now, or a one-line error."""
    with pytest.raises(MailDeliveryFailed, match="ConnectionRefusedError"):
        mailer.send_test(mail_ctx, "ops@example.test")
    with pytest.raises(InvalidInput):
        mailer.send_test(mail_ctx, "not an address")
    with smtp_server(port) as (sink, _):
        mailer.send_test(mail_ctx, "ops@example.test", locale="fr")
    [mail] = sink.received
    assert mail.rcpt_tos == ["ops@example.test"]
    assert mail.message["Subject"] == "[otpgate] Message de test"
    mail_ctx.settings = mail_ctx.settings.with_overrides(smtp_host="")
    with pytest.raises(MailNotConfigured):
        mailer.send_test(mail_ctx, "ops@example.test")
