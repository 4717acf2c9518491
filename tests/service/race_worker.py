"""The worker process of the race tests (imported by 'spawn' children, so kept small)."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from otpgate.config import Settings
from otpgate.security.passwords import PasswordHasher
from otpgate.security.secretbox import KeyRing
from otpgate.service import login
from otpgate.service.clock import FixedClock
from otpgate.service.context import Context, Origin
from otpgate.service.errors import CodeRejected, ServiceError
from otpgate.store.db import make_engine, make_session_factory

__all__ = ["race_rounds"]


def _one(ctx: Context, origin: Origin, user_id: int, kind: str, code: str) -> str:
    try:
        if kind == "totp":
            login.verify_code(ctx, origin, user_id, code)
        else:
            login.verify_recovery_code(ctx, origin, user_id, code)
    except CodeRejected as exc:
        return f"rejected:{exc.reason}"
    except ServiceError as exc:
        return type(exc).__name__
    return "ok"


def _round(
    ctx: Context,
    origin: Origin,
    user_id: int,
    kind: str,
    code: str,
    threads: int,
    process_barrier: Any,
) -> dict[str, int]:
    """Line up ``threads`` threads, wait for the other process, and fire the same code."""
    outcomes: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(threads + 1)

    def fire() -> None:
        start.wait()
        outcome = _one(ctx, origin, user_id, kind, code)
        with lock:
            outcomes.append(outcome)

    pool = [threading.Thread(target=fire) for _ in range(threads)]
    for thread in pool:
        thread.start()
    process_barrier.wait(timeout=60)  # both processes ready: go together
    start.wait()
    for thread in pool:
        thread.join(timeout=60)
    return dict(Counter(outcomes))


def race_rounds(
    url: str,
    key_id: str,
    key_hex: str,
    user_id: int,
    rounds: list[tuple[float, str, str]],
    threads: int,
    process_barrier: Any,
    results: Any,
) -> None:
    """For each round: set the clock, fire the same code from ``threads`` threads, report."""
    engine = make_engine(url)
    ctx = Context(
        settings=Settings(argon2_time_cost=1, argon2_memory_kib=8, argon2_parallelism=1),
        session_factory=make_session_factory(engine),
        keyring=KeyRing([(key_id, bytes.fromhex(key_hex))]),
        hasher=PasswordHasher(time_cost=1, memory_kib=8, parallelism=1),
        clock=FixedClock(rounds[0][0]),
    )
    clock = ctx.clock
    assert isinstance(clock, FixedClock)
    origin = Origin("api", "127.0.0.1", "race")
    try:
        for t, kind, code in rounds:
            clock.set(t)
            results.put(_round(ctx, origin, user_id, kind, code, threads, process_barrier))
    finally:
        engine.dispose()
