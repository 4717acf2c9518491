"""Two OS processes with 16 threads each race on the atomic operations, round after round."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from otpgate.store import repositories as repo
from otpgate.store.db import transaction
from otpgate.store.models import OtpCredential, RecoveryCode

from ._helpers import NOW, new_credential, new_user
from ._workers import race_to_queue

PROCESSES = 2
THREADS = 16
ROUNDS = 20
CALLERS = PROCESSES * THREADS
RESULT_TIMEOUT_S = 240.0


def _run_race(engine: Engine, operation: str, ids: dict[str, int]) -> list[list[Any]]:
    """Every round's results from all threads of all processes."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(CALLERS)
    queue = ctx.Queue()
    url = engine.url.render_as_string(hide_password=False)
    procs = [
        ctx.Process(
            target=race_to_queue, args=(queue, url, operation, ids, ROUNDS, THREADS, barrier)
        )
        for _ in range(PROCESSES)
    ]
    for p in procs:
        p.start()
    try:
        outputs = [queue.get(timeout=RESULT_TIMEOUT_S) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    for out in outputs:
        assert isinstance(out, list), out
    return [[value for out in outputs for value in out[rnd]] for rnd in range(ROUNDS)]


@pytest.fixture
def ids(factory: sessionmaker[Session]) -> dict[str, int]:
    """A user with one active credential and one recovery code per round."""
    with transaction(factory) as s:
        user = new_user(s)
        cred = new_credential(s, user.id)
        repo.add_recovery_codes(s, user.id, [f"race-code-{r}" for r in range(ROUNDS)], NOW)
        return {"user": user.id, "credential": cred.id}


def test_same_step_is_accepted_exactly_once_per_round(
    engine: Engine, factory: sessionmaker[Session], ids: dict[str, int]
) -> None:
    """Of 32 concurrent advance_last_step calls with one step, exactly one returns True."""
    rounds = _run_race(engine, "advance", ids)
    for rnd, results in enumerate(rounds):
        assert Counter(results) == {True: 1, False: CALLERS - 1}, (rnd, results)
    with transaction(factory) as s:
        assert s.scalar(select(OtpCredential.last_step)) == 1000 + ROUNDS - 1


def test_same_recovery_code_is_consumed_exactly_once_per_round(
    engine: Engine, factory: sessionmaker[Session], ids: dict[str, int]
) -> None:
    """Of 32 concurrent consume_recovery_code calls with one code, exactly one returns True."""
    rounds = _run_race(engine, "consume", ids)
    for rnd, results in enumerate(rounds):
        assert Counter(results) == {True: 1, False: CALLERS - 1}, (rnd, results)
    with transaction(factory) as s:
        assert repo.recovery_codes_left(s, ids["user"]) == 0
        assert len(s.scalars(select(RecoveryCode)).all()) == ROUNDS


def test_concurrent_failures_are_all_counted(
    engine: Engine, factory: sessionmaker[Session], ids: dict[str, int]
) -> None:
    """32 concurrent record_failure calls on one scope count 32 and each sees its own number."""
    rounds = _run_race(engine, "fail", ids)
    for rnd, results in enumerate(rounds):
        assert sorted(results) == list(range(1, CALLERS + 1)), (rnd, results)
    with transaction(factory) as s:
        for rnd in range(ROUNDS):
            throttle = repo.get_throttle(s, f"race:{rnd}")
            assert throttle is not None
            assert throttle.failures == CALLERS
