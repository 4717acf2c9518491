"""SQLite's write gate: threads of one process queue on a Python lock, not in SQLite."""

from __future__ import annotations

import threading

from sqlalchemy import Engine

from otpgate.store import repositories as repo
from otpgate.store.db import make_session_factory, transaction, write_gate


def test_only_sqlite_files_have_a_gate(engine: Engine) -> None:
    """A SQLite file engine has a gate; PostgreSQL needs none."""
    gate = write_gate(engine)
    assert (gate is not None) == (engine.dialect.name == "sqlite")


def test_transactions_of_other_threads_wait_for_the_gate(engine: Engine) -> None:
    """While the gate is held, another thread's transaction waits, then runs when it opens."""
    gate = write_gate(engine)
    if gate is None:
        assert engine.dialect.name == "postgresql"
        return
    factory = make_session_factory(engine)
    done = threading.Event()

    def write() -> None:
        with transaction(factory) as s:
            repo.set_setting(s, "gate", "passed")
        done.set()

    with gate:
        worker = threading.Thread(target=write)
        worker.start()
        # Nothing holds SQLite's own lock: only the gate can keep the writer waiting.
        assert not done.wait(0.3)
    worker.join(10)
    assert done.is_set()
    with transaction(factory) as s:
        assert repo.get_setting(s, "gate") == "passed"


def test_many_threads_all_commit(engine: Engine) -> None:
    """Parallel read-then-write transactions all commit, none refused as busy (on SQLite,
    where every transaction holds the write lock, none is lost either)."""
    factory = make_session_factory(engine)
    with transaction(factory) as s:
        repo.set_setting(s, "n", "0")
    errors: list[BaseException] = []

    def bump() -> None:
        try:
            for _ in range(10):
                with transaction(factory) as s:
                    value = int(repo.get_setting(s, "n") or "0")
                    repo.set_setting(s, "n", str(value + 1))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    if engine.dialect.name == "sqlite":
        with transaction(factory) as s:
            assert repo.get_setting(s, "n") == "80"
