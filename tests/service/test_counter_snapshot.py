"""The code check reads the throttle counters in its locking statement: a lock committed
while the check waited for the account's row must still refuse it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import Engine, text

from otpgate.service import login, throttle
from otpgate.service.context import Context, Origin
from otpgate.service.errors import Locked
from otpgate.service.views import SecondFactor, UserView
from otpgate.store import repositories as repo
from otpgate.store.db import connection_transaction

from .twofa import enrol

MakeUser = Callable[..., UserView]


def _wait_until_blocked(engine: Engine) -> None:
    """Until another session of this database waits for a row lock (PostgreSQL; at most
    10 s). SQLite's check waits for the write lock before reading anything: no need."""
    if engine.dialect.name != "postgresql":
        return
    deadline = time.monotonic() + 10
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock'"
    )
    with engine.connect() as conn:
        while conn.execute(query).scalar_one() == 0:
            assert time.monotonic() < deadline, "the check never waited for the row lock"
            time.sleep(0.01)


def test_lock_committed_while_the_check_waits_is_seen(
    ctx: Context, engine: Engine, web: Origin, make_user: MakeUser
) -> None:
    """Another transaction holds the account's row, locks its code scope and commits while
    a correct code waits for the row: the code is refused as Locked, not accepted."""
    user = make_user("alice")
    phone = enrol(ctx, web, user.id)
    code = phone.code(ctx)
    outcome: list[SecondFactor | BaseException] = []

    def check() -> None:
        try:
            outcome.append(login.verify_code(ctx, web, user.id, code))
        except BaseException as exc:
            outcome.append(exc)

    waiting = threading.Thread(target=check)
    until = ctx.now_dt() + timedelta(minutes=5)
    with connection_transaction(engine) as conn:
        parts = throttle.scope_parts("code", web.client_addr)
        assert repo.load_user_for_check(conn, user_id=user.id, scope_parts=parts) is not None
        repo.count_failures(
            conn, user.id, [(throttle.account_scope(user.id, "code"), until)], ctx.now_dt()
        )
        waiting.start()
        _wait_until_blocked(engine)
    waiting.join(timeout=30)
    assert len(outcome) == 1
    assert isinstance(outcome[0], Locked), outcome
    assert outcome[0].until == until
