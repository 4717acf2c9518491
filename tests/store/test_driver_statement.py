"""Core statements run on the driver's cursor (otpgate.store._driver): the same types,
listeners and errors as through SQLAlchemy, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, bindparam, event, insert, select, text

from otpgate.store import repositories as repo
from otpgate.store._driver import DriverStatement
from otpgate.store.db import connection_transaction, make_engine
from otpgate.store.errors import Conflict, DatabaseUnavailable
from otpgate.store.models import AuditEvent, Throttle, User
from otpgate.store.schema import upgrade

INSERT_COUNTER = DriverStatement(
    insert(Throttle).values(
        scope=bindparam("scope", type_=Throttle.__table__.c.scope.type),
        failures=bindparam("failures"),
        first_failure_at=bindparam("at", type_=Throttle.__table__.c.first_failure_at.type),
        last_failure_at=bindparam("at", type_=Throttle.__table__.c.last_failure_at.type),
    ).inline()
)
READ_COUNTER = DriverStatement(
    select(Throttle.scope, Throttle.failures, Throttle.last_failure_at, Throttle.locked_until)
    .where(Throttle.scope == bindparam("scope"))
)
INSERT_AUDIT = DriverStatement(
    insert(AuditEvent).values(
        at=bindparam("at", type_=AuditEvent.__table__.c.at.type),
        kind="test.event",
        source="cli",
        actor_name="",
        subject_name="",
        client_addr="",
        user_agent="",
        detail=bindparam("detail", type_=AuditEvent.__table__.c.detail.type),
    ).inline()
)


def test_values_go_in_and_come_out_as_sqlalchemy_would(engine: Engine) -> None:
    """An aware datetime in another zone is stored as the same instant and read back as
    aware UTC; a dict goes to a JSON column; NULL stays None."""
    paris = timezone(timedelta(hours=1))
    at = datetime(2026, 12, 6, 9, 30, 15, 250000, tzinfo=paris)
    with connection_transaction(engine) as conn:
        INSERT_COUNTER.rows(conn, {"scope": "user:1|code", "failures": 2, "at": at})
        INSERT_AUDIT.run_many(conn, [{"at": at, "detail": {"n": i, "é": "ü"}} for i in range(3)])
        rows = READ_COUNTER.rows(conn, {"scope": "user:1|code"})
    assert rows == [("user:1|code", 2, at.astimezone(UTC), None)]
    assert rows[0][2].tzinfo is UTC
    with engine.connect() as conn:
        details = conn.execute(select(AuditEvent.detail).order_by(AuditEvent.id)).scalars()
        assert list(details) == [{"n": i, "é": "ü"} for i in range(3)]


def test_a_naive_datetime_is_refused_as_through_sqlalchemy(engine: Engine) -> None:
    """The column type's own check runs: no naive time is guessed into UTC."""
    with pytest.raises(ValueError, match="naive"), connection_transaction(engine) as conn:
        INSERT_COUNTER.rows(conn, {"scope": "s", "failures": 1, "at": datetime(2026, 1, 1)})


def test_listeners_see_each_statement(engine: Engine) -> None:
    """before_cursor_execute listeners (statement counts) see the driver's statements."""
    seen: list[str] = []

    def on_execute(*args: object) -> None:
        seen.append(str(args[2]).split()[0])

    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        with connection_transaction(engine) as conn:
            READ_COUNTER.rows(conn, {"scope": "x"})
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
    assert "SELECT" in seen


def test_a_broken_constraint_is_a_conflict_without_the_values(engine: Engine) -> None:
    """A duplicate key is the store's Conflict; the message names no value sent."""
    at = datetime.now(UTC)
    with connection_transaction(engine) as conn:
        INSERT_COUNTER.rows(conn, {"scope": "secret-scope-value", "failures": 1, "at": at})
    with pytest.raises(Conflict) as refused, connection_transaction(engine) as conn:
        INSERT_COUNTER.rows(conn, {"scope": "secret-scope-value", "failures": 1, "at": at})
    assert "secret-scope-value" not in str(refused.value)
    assert "\n" not in str(refused.value)


@pytest.fixture
def pg_engine(pg_server_url: str) -> Iterator[Engine]:
    eng = make_engine(pg_server_url)
    upgrade(eng)
    yield eng
    eng.dispose()


def test_a_terminated_connection_is_unavailable_then_replaced(pg_engine: Engine) -> None:
    """PostgreSQL ends the backend mid-transaction: DatabaseUnavailable, and the pool's
    next connection works (the dead one was invalidated, not returned)."""
    with pytest.raises(DatabaseUnavailable), connection_transaction(pg_engine) as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with pg_engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        READ_COUNTER.rows(conn, {"scope": "x"})
    with connection_transaction(pg_engine) as conn:
        assert READ_COUNTER.rows(conn, {"scope": "x"}) == []


@pytest.mark.parametrize("as_expected", [True, False])
def test_failure_audits_are_stored_only_with_the_counts_they_describe(
    engine: Engine, as_expected: bool
) -> None:
    """count_failures stores the audit rows it is given (on PostgreSQL in its own
    statement) only if every stored count is the expected one; otherwise none, and the
    caller audits the counts it got."""
    now = datetime.now(UTC)
    with connection_transaction(engine) as conn:
        conn.execute(insert(User).values(username="eve", password_hash="x", created_at=now,
                                         password_changed_at=now))
        user_id = conn.execute(select(User.id)).scalar_one()
        scopes = [f"user:{user_id}|code", f"user:{user_id}|code|192.0.2.1"]
        INSERT_COUNTER.rows(conn, {"scope": scopes[0], "failures": 2, "at": now})
        row = {"at": now, "kind": "login.code_failed", "source": "api", "actor_id": None,
               "actor_name": "", "subject_id": user_id, "subject_name": "eve",
               "client_addr": "192.0.2.1", "user_agent": "", "detail": {"failures": 3}}
        expected = {scopes[0]: 3 if as_expected else 2, scopes[1]: 1}
        stored = repo.count_failures(
            conn, user_id, [(s, None) for s in scopes], now, expected=expected,
            audits=[row, {**row, "kind": "login.locked"}],
        )
    assert stored == {scopes[0]: 3, scopes[1]: 1}
    with engine.connect() as conn:
        kinds = conn.execute(select(AuditEvent.kind).order_by(AuditEvent.id)).scalars().all()
    assert kinds == (["login.code_failed", "login.locked"] if as_expected else [])
