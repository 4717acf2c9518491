"""Threads that run blocking calls for the event loop, with as little hand-over as can be.

A :class:`~concurrent.futures.ThreadPoolExecutor` behind ``run_in_executor`` hands each
call over through two futures (one locked, one chained to it by callbacks) and a work
item; for the code check, a short call made many times a second, that hand-over cost
more CPU than the framework it replaced. Here a call goes in on a queue and its outcome
comes back as one callback on the loop. The caller's context (the request's log fields)
goes with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["LoopThreads"]

T = TypeVar("T")

_Job = tuple[
    asyncio.AbstractEventLoop, "asyncio.Future[Any]", contextvars.Context, Callable[[], Any]
]


class LoopThreads:
    """``count`` daemon threads, started on first use, serving every loop that calls."""

    def __init__(self, count: int, name: str) -> None:
        self._count = count
        self._name = name
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._started = False
        self._lock = threading.Lock()

    async def run(self, fn: Callable[[], T]) -> T:
        """``fn()`` in one of the threads; its result, or its exception raised here."""
        if not self._started:
            self._start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((loop, future, contextvars.copy_context(), fn))
        return await future

    def _start(self) -> None:
        with self._lock:
            if self._started:
                return
            for i in range(self._count):
                # Daemon: a call cut short by the process's end leaves a transaction the
                # database rolls back; the server waits for requests in flight before.
                threading.Thread(target=self._serve, name=f"{self._name}-{i}", daemon=True).start()
            self._started = True

    def _serve(self) -> None:
        while True:
            loop, future, context, fn = self._jobs.get()
            try:
                result = context.run(fn)
            except BaseException as exc:  # handed to the awaiting task, raised there
                _hand_back(loop, _fail, future, exc)
            else:
                _hand_back(loop, _settle, future, result)


def _hand_back(
    loop: asyncio.AbstractEventLoop,
    callback: Callable[[asyncio.Future[Any], Any], None],
    future: asyncio.Future[Any],
    outcome: Any,
) -> None:
    # A loop closed meanwhile refuses the callback: nobody waits for the outcome then.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(callback, future, outcome)


def _settle(future: asyncio.Future[Any], result: Any) -> None:
    if not future.cancelled():
        future.set_result(result)


def _fail(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.cancelled():
        future.set_exception(exc)
