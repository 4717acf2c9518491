"""Retention: delete what is no longer needed, so the database stops growing.

Expired web sessions, enrolments never confirmed, failure counters past their forget
time (and not locked) and finished mails go as soon as nothing can use them. Audit rows
are kept forever unless ``OTPGATE_AUDIT_RETENTION_DAYS`` is set; deleting them is itself
audited (``audit.purged``, with how many and the cut-off).

Everything is deleted in batches of :data:`BATCH_SIZE` rows, one short transaction
each, so a large backlog never blocks logins. :class:`RetentionWorker` runs
:func:`purge` every :data:`PURGE_INTERVAL` seconds inside ``otpgate serve``;
``otpgate db purge`` runs it once (from cron, for processes that do not serve).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from otpgate.service._periodic import PeriodicWorker
from otpgate.service._tx import unit_of_work
from otpgate.service.audit import AuditKind, record
from otpgate.service.invitations import REINVITE_AFTER
from otpgate.service.notify import LOCKOUT_MAIL_INTERVAL
from otpgate.service.throttle import CODE_ACCOUNT, CODE_PAIR, PASSWORD_ACCOUNT, PASSWORD_PAIR
from otpgate.store import retention as store

if TYPE_CHECKING:
    from otpgate.service.context import Context, Origin

__all__ = ["BATCH_SIZE", "PURGE_INTERVAL", "PurgeReport", "RetentionWorker", "purge"]

log = logging.getLogger("otpgate.retention")

BATCH_SIZE = 1000
PURGE_INTERVAL = 600.0
# A counter is forgotten by the throttle after its policy's forget time; the longest one.
_THROTTLE_FORGOTTEN = timedelta(seconds=max(
    p.forget_after_seconds for p in (CODE_PAIR, CODE_ACCOUNT, PASSWORD_PAIR, PASSWORD_ACCOUNT)
))
# Sent mails answer "was this user mailed lately?" (re-invitations, lockout mails): keep
# them well past the longest of those intervals, and dead ones long enough to look into.
SENT_MAIL_KEPT = max(timedelta(days=7), REINVITE_AFTER, LOCKOUT_MAIL_INTERVAL)
DEAD_MAIL_KEPT = timedelta(days=30)


@dataclass(frozen=True)
class PurgeReport:
    """Rows deleted, per kind."""

    sessions: int = 0
    enrolments: int = 0
    throttles: int = 0
    mails: int = 0
    audit: int = 0

    @property
    def total(self) -> int:
        return sum(getattr(self, f.name) for f in fields(self))


Batch = Callable[[Session, datetime, int], int]


def _batches(ctx: Context) -> dict[str, Batch]:
    settings = ctx.settings
    idle = timedelta(seconds=settings.session_idle_seconds)
    batches: dict[str, Batch] = {
        "sessions": lambda s, now, n: store.delete_dead_sessions(
            s, now=now, idle_before=now - idle, limit=n),
        "enrolments": lambda s, now, n: store.delete_expired_enrolments(s, now=now, limit=n),
        "throttles": lambda s, now, n: store.delete_forgotten_throttles(
            s, now=now, last_failure_before=now - _THROTTLE_FORGOTTEN, limit=n),
        "mails": lambda s, now, n: store.delete_finished_mail(
            s, sent_before=now - SENT_MAIL_KEPT, dead_before=now - DEAD_MAIL_KEPT, limit=n),
    }
    return batches


def _drain(ctx: Context, batch: Batch, batch_size: int, stopping: Callable[[], bool]) -> int:
    deleted = 0
    while not stopping():
        with unit_of_work(ctx) as session:
            n = batch(session, ctx.now_dt(), batch_size)
        deleted += n
        if n < batch_size:
            break
    return deleted


def _purge_audit(
    ctx: Context, origin: Origin, batch_size: int, stopping: Callable[[], bool]
) -> int:
    days = ctx.settings.audit_retention_days
    if not days:
        return 0
    before = ctx.now_dt() - timedelta(days=days)
    deleted = _drain(
        ctx, lambda s, _now, n: store.delete_audit_before(s, before=before, limit=n),
        batch_size, stopping,
    )
    if deleted:
        with unit_of_work(ctx) as session:
            record(session, ctx, origin, AuditKind.AUDIT_PURGED, detail={
                "deleted": deleted, "before": before.isoformat(), "retention_days": days,
            })
    return deleted


def purge(
    ctx: Context,
    origin: Origin,
    *,
    batch_size: int = BATCH_SIZE,
    stopping: Callable[[], bool] = lambda: False,
) -> PurgeReport:
    """Delete every row past its retention (module docstring); what was deleted.

    ``stopping`` is asked between batches: a server shutting down does not wait for a
    long purge (the next run goes on where this one stopped).
    """
    counts = {name: _drain(ctx, batch, batch_size, stopping)
              for name, batch in _batches(ctx).items()}
    counts["audit"] = _purge_audit(ctx, origin, batch_size, stopping)
    return PurgeReport(**counts)


class RetentionWorker(PeriodicWorker):
    """Runs :func:`purge` at start and every ``interval`` seconds until :meth:`stop`."""

    def __init__(self, ctx: Context, origin: Origin, *, interval: float = PURGE_INTERVAL) -> None:
        super().__init__("retention purge", log, interval=interval)
        self._ctx, self._origin = ctx, origin

    def run_once(self) -> bool:
        report = purge(self._ctx, self._origin, stopping=lambda: self.stopping)
        if report.total:
            log.info("retention: deleted %s", ", ".join(
                f"{getattr(report, f.name)} {f.name}" for f in fields(report)))
        return False
