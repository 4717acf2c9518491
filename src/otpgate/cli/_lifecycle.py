"""What ``otpgate serve`` runs around the web server: the retention purge, a clean stop.

SIGTERM (``systemctl stop``) makes uvicorn stop accepting connections, finish the
requests in flight (for up to :data:`GRACEFUL_SHUTDOWN_SECONDS`), then run the app's
shutdown, where the mail sender finishes its batch and is joined. uvicorn then sends the
signal to itself again so that its default action ends the process, which would make a
clean stop look like a kill (exit status 143). :func:`serve_until_stopped` installs a
handler first, which receives that repeated signal instead, so ``otpgate serve`` stops
its own threads and exits 0.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import uvicorn

from otpgate.cli._errors import EXIT_CONFIG, CliError

if TYPE_CHECKING:
    from otpgate.service.context import Context

__all__ = ["GRACEFUL_SHUTDOWN_SECONDS", "background_purge", "serve_until_stopped"]

log = logging.getLogger("otpgate.serve")

# Requests still running this long after SIGTERM are cancelled (systemd's own stop
# time-out, TimeoutStopSec, is 90 s by default).
GRACEFUL_SHUTDOWN_SECONDS = 60


@contextmanager
def background_purge(ctx: Context) -> Iterator[None]:
    """The retention purge in a thread of this process while the block runs."""
    from otpgate.service.context import Origin
    from otpgate.service.retention import RetentionWorker

    worker = RetentionWorker(ctx, Origin(source="cli", user_agent="otpgate serve retention"))
    worker.start()
    try:
        yield
    finally:
        worker.stop()


def serve_until_stopped(config: uvicorn.Config) -> None:
    """Run one uvicorn server until SIGTERM or Ctrl-C; see the module docstring."""
    server = uvicorn.Server(config)
    # Before uvicorn installs its own handlers (and after it restores this one), SIGTERM
    # asks the server to stop: at start-up it stops at once, afterwards nothing happens.
    previous = signal.signal(signal.SIGTERM, server.handle_exit)
    try:
        server.run()
    finally:
        signal.signal(signal.SIGTERM, previous)
    if not server.started and not server.should_exit:
        raise CliError("the web server could not start (see the log above)", EXIT_CONFIG)
    log.info("stopped")
