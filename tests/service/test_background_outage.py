"""The background threads of ``otpgate serve`` while the database is unreachable."""

from __future__ import annotations

import logging
import socket
import time

import pytest

from otpgate.config import Settings
from otpgate.security.passwords import PasswordHasher
from otpgate.security.secretbox import KeyRing
from otpgate.service.context import Context, Origin
from otpgate.service.mailer import MailWorker
from otpgate.service.retention import RetentionWorker
from otpgate.store.db import make_engine, make_session_factory


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port  # nothing listens there once the socket is closed


@pytest.mark.parametrize("worker_class", [MailWorker, RetentionWorker])
def test_a_worker_waits_for_the_database_with_a_warning_not_a_traceback(
    worker_class: type[MailWorker] | type[RetentionWorker], caplog: pytest.LogCaptureFixture
) -> None:
    """Connection refused: one warning line per run, no traceback, and a clean stop."""
    url = f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/otpgate"
    engine = make_engine(url)
    settings = Settings(database_url=url, smtp_host="127.0.0.1", smtp_from="o@example.org")
    ctx = Context(settings=settings, session_factory=make_session_factory(engine),
                  keyring=KeyRing([("k", bytes(32))]),
                  hasher=PasswordHasher(time_cost=1, memory_kib=8, parallelism=1))
    caplog.set_level(logging.INFO)
    worker = worker_class(ctx, Origin(source="cli"), interval=0.05)
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while not any("waiting for the database" in r.getMessage() for r in caplog.records):
            assert time.monotonic() < deadline, caplog.text
            time.sleep(0.05)
    finally:
        worker.stop()
        engine.dispose()
    assert not worker.is_alive()
    warnings = [r for r in caplog.records if "waiting for the database" in r.getMessage()]
    assert all(r.levelno == logging.WARNING and r.exc_info is None for r in warnings)
    assert "Connection refused" in warnings[0].getMessage()
    assert not [r for r in caplog.records if r.exc_info], caplog.text
