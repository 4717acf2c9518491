"""A background thread that runs one job again and again until it is stopped.

Used by ``otpgate serve`` for the mail sender and the retention purge. A database that
is down for a while is expected (a restart, a failover): the thread logs one warning per
attempt and tries again later, without a traceback. Anything else is a bug: its
traceback is logged, and the thread goes on.
"""

from __future__ import annotations

import logging
import threading

from otpgate.store.errors import DatabaseUnavailable

__all__ = ["PeriodicWorker"]


class PeriodicWorker(threading.Thread):
    """Calls :meth:`run_once` every ``interval`` seconds until :meth:`stop`."""

    def __init__(self, label: str, log: logging.Logger, *, interval: float) -> None:
        super().__init__(name=f"otpgate-{label.replace(' ', '-')}", daemon=True)
        self.label, self._log, self._interval = label, log, interval
        self._stopping = threading.Event()

    def run_once(self) -> bool:
        """Do one run of the job; True if more work is waiting (no pause before the next)."""
        raise NotImplementedError

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def run(self) -> None:
        while not self._stopping.is_set():
            busy = False
            try:
                busy = self.run_once()
            except DatabaseUnavailable as exc:
                self._log.warning("%s waiting for the database: %s", self.label, exc)
            except Exception:
                self._log.exception("%s run failed", self.label)
            if not busy:
                self._stopping.wait(self._interval)

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the job to stop and wait for its run in flight (at most ``timeout`` s)."""
        self._stopping.set()
        self.join(timeout)
        if self.is_alive():
            self._log.warning("%s still busy after %g s", self.label, timeout)
        else:
            self._log.info("%s stopped", self.label)
