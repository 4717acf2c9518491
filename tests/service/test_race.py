"""Races: 2 processes of 16 threads each submit the same code; exactly one request succeeds."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from collections.abc import Callable

import pytest
from sqlalchemy import Engine

from otpgate.service.context import Context, Origin
from otpgate.service.views import UserView

from .conftest import TEST_KEY, TEST_KEY_ID
from .race_worker import race_rounds
from .twofa import enrol

MakeUser = Callable[..., UserView]
PROCESSES, THREADS, ROUNDS = 2, 16, 10


def _race(engine: Engine, user_id: int, rounds: list[tuple[float, str, str]]) -> list[Counter[str]]:
    """Run the rounds in PROCESSES spawned processes; the merged outcomes of each round."""
    spawn = multiprocessing.get_context("spawn")
    barrier = spawn.Barrier(PROCESSES)
    results = spawn.Queue()
    url = engine.url.render_as_string(hide_password=False)
    procs = [
        spawn.Process(
            target=race_rounds,
            args=(url, TEST_KEY_ID, TEST_KEY.hex(), user_id, rounds, THREADS, barrier, results),
        )
        for _ in range(PROCESSES)
    ]
    for proc in procs:
        proc.start()
    merged = [Counter[str]() for _ in rounds]
    try:
        # The barrier of each round makes both processes report round r before either
        # reports round r + 1, so the reports arrive in chunks of PROCESSES per round.
        for i in range(PROCESSES * len(rounds)):
            merged[i // PROCESSES].update(results.get(timeout=120))
    finally:
        for proc in procs:
            proc.join(timeout=60)
            if proc.is_alive():
                proc.kill()
    assert all(proc.exitcode == 0 for proc in procs)
    return merged


@pytest.mark.slow
def test_same_totp_code_from_32_concurrent_requests(
    ctx: Context, web: Origin, make_user: MakeUser, engine: Engine
) -> None:
    """In every round, one request accepts the code and the 31 others see a replay."""
    user = make_user("alice")
    phone = enrol(ctx, web, user.id)
    t0 = ctx.clock.now()
    rounds = [(t0 + 30 * r, "totp", phone.totp.generate_at(t0 + 30 * r)) for r in range(ROUNDS)]
    outcomes = _race(engine, user.id, rounds)
    total = PROCESSES * THREADS
    assert outcomes == [Counter({"ok": 1, "rejected:replayed": total - 1})] * ROUNDS


@pytest.mark.slow
def test_same_recovery_code_from_32_concurrent_requests(
    ctx: Context, web: Origin, make_user: MakeUser, engine: Engine
) -> None:
    """In every round, one request uses the recovery code and the 31 others are refused."""
    user = make_user("alice")
    phone = enrol(ctx, web, user.id)
    t0 = ctx.clock.now()
    rounds = [(t0 + r, "recovery", phone.recovery_codes[r]) for r in range(ROUNDS)]
    outcomes = _race(engine, user.id, rounds)
    total = PROCESSES * THREADS
    assert outcomes == [Counter({"ok": 1, "rejected:replayed": total - 1})] * ROUNDS
