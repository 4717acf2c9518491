"""``otpgate db purge``: the retention purge run once from the command line (cron)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine, func, select

from otpgate.service import web_sessions as ws
from otpgate.service.clock import FixedClock
from otpgate.service.context import Context
from otpgate.store.models import AuditEvent, WebSession

from .conftest import OPERATOR_AS_USER, Run


def test_db_purge_deletes_expired_sessions_and_says_how_many(
    run: Run, service_ctx: Callable[[], Context], engine: Engine
) -> None:
    """Sessions that died long ago are deleted; the line counts them; audit rows stay."""
    ctx = service_ctx()
    assert isinstance(ctx.clock, FixedClock)
    for _ in range(3):
        ws.start_session(ctx, OPERATOR_AS_USER)  # at T0, long before the CLI's real clock
    with engine.connect() as conn:
        audit = conn.scalar(select(func.count()).select_from(AuditEvent))
    result = run("db", "purge")
    assert result.code == 0, result.err
    assert result.out == "Deleted 3 sessions, 0 enrolments, 0 throttles, 0 mails, 0 audit.\n"
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(WebSession)) == 0
        assert conn.scalar(select(func.count()).select_from(AuditEvent)) == audit
