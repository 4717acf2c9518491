"""Where time comes from. Use cases never call ``time.time()``: they ask ``ctx.clock``."""

from __future__ import annotations

import time
from typing import Protocol

__all__ = ["Clock", "FixedClock", "SystemClock"]


class Clock(Protocol):
    def now(self) -> float:
        """Unix time in seconds."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()


class FixedClock:
    """A clock that moves only when told to; for tests and replays."""

    def __init__(self, t: float) -> None:
        self._t = float(t)

    def now(self) -> float:
        return self._t

    def set(self, t: float) -> None:
        self._t = float(t)

    def advance(self, seconds: float) -> None:
        self._t += seconds
