"""The threads that run the verify fast path's checks for the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest

from otpgate.web.loop_threads import LoopThreads

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")

T = TypeVar("T")


def in_own_thread(fn: Callable[[], T]) -> T:
    """``fn()`` in a new thread: this one may already run an event loop (Playwright's, when
    the browser tests ran first in the session), and these tests run their own."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn).result(timeout=30)


def test_results_exceptions_and_context_come_back_to_each_caller() -> None:
    """Many calls at once: each gets its own result or exception, ran off the loop's
    thread with the caller's context, on at most ``count`` threads; two loops one after
    the other share the threads."""
    threads = LoopThreads(3, "test")
    seen_threads: set[str] = set()

    def work(n: int) -> str:
        seen_threads.add(threading.current_thread().name)
        if n % 5 == 0:
            raise ValueError(f"refused {n}")
        return f"{request_id.get()}:{n}"

    async def one(n: int) -> str:
        request_id.set(f"r{n}")
        try:
            return await threads.run(lambda: work(n))
        except ValueError as exc:
            return str(exc)

    async def many() -> list[str]:
        return list(await asyncio.gather(*(one(n) for n in range(1, 41))))

    for _ in range(2):
        answers = in_own_thread(lambda: asyncio.run(many()))
        assert answers == [f"refused {n}" if n % 5 == 0 else f"r{n}:{n}" for n in range(1, 41)]
    assert threading.current_thread().name not in seen_threads
    assert 1 <= len(seen_threads) <= 3


def test_a_cancelled_caller_does_not_break_the_threads() -> None:
    """The caller gives up while its call runs: the call finishes, the next one works."""
    threads = LoopThreads(1, "test")
    release = threading.Event()

    async def scenario() -> int:
        slow = asyncio.ensure_future(threads.run(lambda: release.wait(5)))
        await asyncio.sleep(0.05)
        slow.cancel()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await slow
        return await threads.run(lambda: 42)

    assert in_own_thread(lambda: asyncio.run(scenario())) == 42


def test_a_loop_closed_before_the_call_ends_does_not_kill_a_thread() -> None:
    """The loop is gone when the call finishes: the outcome is dropped, the thread lives
    on and serves the next loop."""
    threads = LoopThreads(1, "test")
    release = threading.Event()
    done = threading.Event()

    def slow() -> None:
        release.wait(5)
        done.set()

    async def give_up() -> None:
        call = asyncio.ensure_future(threads.run(slow))
        await asyncio.sleep(0.05)
        call.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await call

    in_own_thread(lambda: asyncio.run(give_up()))  # the loop is closed when run returns
    release.set()
    assert done.wait(5)

    async def next_call() -> int:
        return await asyncio.wait_for(threads.run(lambda: 7), 5)  # a dead thread: fails

    assert in_own_thread(lambda: asyncio.run(next_call())) == 7
