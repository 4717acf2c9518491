"""Functions run in child processes (spawned, so they must be importable by name)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from otpgate.store import repositories as repo
from otpgate.store.db import make_engine, make_session_factory, transaction
from otpgate.store.schema import current_revision, upgrade

BARRIER_TIMEOUT_S = 60.0
NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


def upgrade_url(url: str) -> str | None:
    """Migrate the database at ``url`` and return the revision it is at afterwards."""
    engine = make_engine(url)
    try:
        upgrade(engine)
        return current_revision(engine)
    finally:
        engine.dispose()


def _advance(s: Session, ids: dict[str, int], rnd: int) -> Any:
    return repo.advance_last_step(s, ids["credential"], 1000 + rnd, now=NOW, drift_seconds=0.0)


def _consume(s: Session, ids: dict[str, int], rnd: int) -> Any:
    return repo.consume_recovery_code(s, ids["user"], f"race-code-{rnd}", NOW)


def _fail(s: Session, ids: dict[str, int], rnd: int) -> Any:
    return repo.record_failure(s, f"race:{rnd}", NOW).failures


OPERATIONS: dict[str, Callable[[Session, dict[str, int], int], Any]] = {
    "advance": _advance,
    "consume": _consume,
    "fail": _fail,
}


def race(
    url: str, operation: str, ids: dict[str, int], rounds: int, threads: int, barrier: Any
) -> list[list[Any]]:
    """Run ``operation`` from ``threads`` threads at once, ``rounds`` times.

    ``barrier`` is shared with the other processes, so every round starts in all of
    them together. Returns, per round, what each thread's call returned (or the name
    of the exception it raised).
    """
    engine = make_engine(url, pool_size=threads)
    factory = make_session_factory(engine)
    results: list[list[Any]] = [[] for _ in range(rounds)]
    lock = threading.Lock()

    def worker() -> None:
        for rnd in range(rounds):
            barrier.wait(BARRIER_TIMEOUT_S)
            try:
                with transaction(factory) as s:
                    value = OPERATIONS[operation](s, ids, rnd)
            except Exception as exc:
                value = f"{type(exc).__name__}: {exc}"
            with lock:
                results[rnd].append(value)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    try:
        for t in pool:
            t.start()
        for t in pool:
            t.join()
    finally:
        engine.dispose()
    return results


def race_to_queue(queue: Any, *args: Any) -> None:
    """:func:`race` for a child process: puts its results (or its error) on ``queue``."""
    try:
        queue.put(race(*args))
    except BaseException as exc:
        queue.put(f"{type(exc).__name__}: {exc}")
        raise
