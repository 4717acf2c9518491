"""The atomic operations are each one SQL statement, so no other transaction can interleave."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from otpgate.store import repositories as repo
from otpgate.store.db import transaction

from ._helpers import NOW, new_credential, new_user


@contextmanager
def _statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


OPERATIONS: dict[str, tuple[str, str, Callable[[Session, dict[str, int]], object]]] = {
    "advance_last_step": (
        "UPDATE otp_credentials SET last_step=",
        "otp_credentials.last_step <",
        lambda s, ids: repo.advance_last_step(s, ids["cred"], 9, now=NOW, drift_seconds=0.0),
    ),
    "consume_recovery_code": (
        "UPDATE recovery_codes SET used_at=",
        "recovery_codes.used_at IS NULL",
        lambda s, ids: repo.consume_recovery_code(s, ids["user"], "h1", NOW),
    ),
    "record_failure": (
        "INSERT INTO throttles ",
        "ON CONFLICT (scope) DO UPDATE SET failures = (throttles.failures + ",
        lambda s, ids: repo.record_failure(s, "user:1", NOW),
    ),
}


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_atomic_operation_is_one_statement(
    engine: Engine, factory: sessionmaker[Session], name: str
) -> None:
    """The operation sends exactly one statement, the conditional UPDATE or the upsert."""
    with transaction(factory) as s:
        user = new_user(s)
        cred = new_credential(s, user.id)
        repo.add_recovery_codes(s, user.id, ["h1"], NOW)
        repo.record_failure(s, "user:1", NOW)
        ids = {"user": user.id, "cred": cred.id}
    prefix, condition, operation = OPERATIONS[name]
    with transaction(factory) as s:
        s.connection()  # begin first, so only the operation's own statements are seen
        with _statements(engine) as seen:
            operation(s, ids)
    assert len(seen) == 1, seen
    assert seen[0].startswith(prefix), seen
    assert condition in seen[0], seen
