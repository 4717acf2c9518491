"""The sender: takes due messages from the outbox and hands them to the SMTP server.

Each run claims a batch in one short transaction, sends outside any transaction (one
connection per batch), then records each outcome in its own transaction. A failed attempt
is audited (``mail.failed``) and retried with exponential back-off (1 min, 2, 4, … capped
at 6 h); after :data:`MAX_ATTEMPTS` the message is ``dead`` (audited ``mail.dead``). A
refusal the server calls permanent (5xx for the recipient) is dead at once. A sender that
dies mid-batch leaves its claim, which other senders take over after :data:`CLAIM_LEASE`
(delivery is at-least-once). :class:`MailWorker` runs this every few seconds inside
``otpgate serve``; ``otpgate mail send-pending`` runs it once.
"""

from __future__ import annotations

import logging
import secrets
import smtplib
import ssl
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING

from otpgate.service import telemetry
from otpgate.service._periodic import PeriodicWorker
from otpgate.service._tx import unit_of_work
from otpgate.service.audit import AuditKind, record
from otpgate.service.errors import InvalidInput, MailDeliveryFailed, MailNotConfigured
from otpgate.service.notify_messages import check_mail
from otpgate.store import repositories as repo
from otpgate.store.models import OutboxMail, User

if TYPE_CHECKING:
    from otpgate.config import Settings
    from otpgate.service.context import Context, Origin

__all__ = [
    "CLAIM_LEASE",
    "MAX_ATTEMPTS",
    "MailWorker",
    "SendReport",
    "backoff",
    "outbox_counts",
    "send_pending",
    "send_test",
]

log = logging.getLogger("otpgate.mail")

MAX_ATTEMPTS = 8
CLAIM_LEASE = timedelta(minutes=10)
_FIRST_RETRY = 60
_LONGEST_RETRY = 6 * 3600


def backoff(attempts: int) -> timedelta:
    """Wait before the next try, after ``attempts`` failed ones: 1 min, doubling, ≤ 6 h."""
    return timedelta(seconds=min(_FIRST_RETRY * 2 ** max(attempts - 1, 0), _LONGEST_RETRY))


@dataclass(frozen=True)
class SendReport:
    sent: int = 0
    retrying: int = 0
    dead: int = 0


@dataclass(frozen=True)
class _Outgoing:
    id: int
    claim: str
    user_id: int | None
    kind: str
    recipient: str
    subject: str
    text: str
    html: str
    attempts: int


def _outgoing(row: OutboxMail) -> _Outgoing:
    return _Outgoing(
        row.id, row.claim, row.user_id, row.kind, row.recipient, row.subject,
        row.body_text, row.body_html, row.attempts,
    )


def _message(settings: Settings, m: _Outgoing) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = m.recipient
    message["Subject"] = m.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=settings.smtp_from.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies
    message.set_content(m.text)
    message.add_alternative(m.html, subtype="html")
    return message


def _connect(settings: Settings) -> smtplib.SMTP:
    host, port, timeout = settings.smtp_host, settings.effective_smtp_port, settings.smtp_timeout
    if settings.smtp_security == "tls":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            host, port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    try:
        if settings.smtp_security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password)
    except BaseException:
        smtp.close()
        raise
    return smtp


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:200]


def _permanent(exc: BaseException) -> bool:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return False


def _deliver(settings: Settings, batch: list[_Outgoing]) -> dict[int, BaseException | None]:
    """Send each message; the error of each failure (None for a success)."""
    outcome: dict[int, BaseException | None] = {}
    try:
        smtp = _connect(settings)
    except (OSError, smtplib.SMTPException) as exc:
        return dict.fromkeys((m.id for m in batch), exc)
    with smtp:
        for m in batch:
            try:
                smtp.send_message(_message(settings, m))
                outcome[m.id] = None
            except (OSError, smtplib.SMTPException) as exc:
                outcome[m.id] = exc
    return outcome


def _settle(
    ctx: Context, origin: Origin, m: _Outgoing, error: BaseException | None
) -> telemetry.MailOutcome:
    """Record one outcome: "sent", "retrying" or "dead" (or "lost" if the claim went stale)."""
    now = ctx.now_dt()
    with unit_of_work(ctx) as session:
        if error is None:
            return "sent" if repo.mark_mail_sent(session, m.id, m.claim, now) else "lost"
        dead = m.attempts >= MAX_ATTEMPTS or _permanent(error)
        retry_at = None if dead else now + backoff(m.attempts)
        text = _describe(error)
        if not repo.mark_mail_failed(session, m.id, m.claim, error=text, retry_at=retry_at):
            return "lost"
        subject = session.get(User, m.user_id) if m.user_id is not None else None
        detail: dict[str, object] = {
            "mail_id": m.id, "kind": m.kind, "attempt": m.attempts, "error": text,
        }
        if retry_at is not None:
            detail["retry_at"] = retry_at.isoformat()
        kind = AuditKind.MAIL_DEAD if dead else AuditKind.MAIL_FAILED
        record(session, ctx, origin, kind, subject=subject, detail=detail)
        return "dead" if dead else "retrying"


def send_pending(ctx: Context, origin: Origin, *, limit: int = 20) -> SendReport:
    """Send one batch of due messages (nothing when SMTP is not configured)."""
    if not ctx.settings.smtp_configured:
        return SendReport()
    now = ctx.now_dt()
    claim = secrets.token_hex(16)
    with unit_of_work(ctx) as session:
        rows = repo.claim_mail(
            session, claim=claim, now=now, stale_before=now - CLAIM_LEASE, limit=limit
        )
        batch = [_outgoing(row) for row in rows]
    if not batch:
        return SendReport()
    outcome = _deliver(ctx.settings, batch)
    counts = {"sent": 0, "retrying": 0, "dead": 0, "lost": 0}
    for m in batch:
        error = outcome[m.id]
        if error is not None:
            log.warning("mail %d to user %s failed: %s", m.id, m.user_id, _describe(error))
        settled = _settle(ctx, origin, m, error)
        telemetry.mail_settled(settled)
        counts[settled] += 1
    return SendReport(counts["sent"], counts["retrying"], counts["dead"])


def outbox_counts(ctx: Context) -> dict[str, int]:
    """How many messages of the outbox are queued, being sent, sent and given up."""
    with unit_of_work(ctx) as session:
        counts = repo.count_mail_by_status(session)
    return {status: counts.get(status, 0) for status in ("queued", "sending", "sent", "dead")}


def send_test(ctx: Context, address: str, *, locale: str = "en") -> None:
    """Send a test message now, past the outbox, so the operator sees any error at once."""
    if not ctx.settings.smtp_configured:
        raise MailNotConfigured()
    if not isinstance(address, str) or "@" not in address or len(address) > 320:
        raise InvalidInput("Give an e-mail address like someone@example.com.")
    mail = check_mail(locale=locale, issuer=ctx.settings.issuer)
    m = _Outgoing(0, "", None, "test", address, mail.subject, mail.text, mail.html, 1)
    error = _deliver(ctx.settings, [m])[0]
    if error is not None:
        raise MailDeliveryFailed(f"The mail could not be sent: {_describe(error)}")


class MailWorker(PeriodicWorker):
    """Runs :func:`send_pending` every ``interval`` seconds until :meth:`stop`; a claim
    left by a sender stopped mid-batch is taken over after :data:`CLAIM_LEASE`."""

    def __init__(self, ctx: Context, origin: Origin, *, interval: float = 5.0) -> None:
        super().__init__("mail sender", log, interval=interval)
        self._ctx, self._origin = ctx, origin

    def run_once(self) -> bool:
        # A full batch means more may be waiting: go on without pausing.
        report = send_pending(self._ctx, self._origin)
        return report.sent + report.retrying + report.dead >= 20
