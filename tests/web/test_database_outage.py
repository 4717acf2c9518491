"""A PostgreSQL outage under load: 503 with Retry-After, friendly pages, PAM (helper and
daemon) refuses with one log line, no traceback; then recovery without a restart, and no
code accepted twice.

The cluster is a throw-away one the test stops (``pg_ctl stop -m fast``, which ends every
open connection, as a crash or a failover does) and starts again. The pool runs without
``pool_pre_ping``: recovery must come from connections being invalidated when they fail.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.pool import QueuePool
from test_api_support import ApiHarness, api_harness

from conftest import unavailable
from otpgate.pam.helper import EXIT_ERROR, EXIT_OK, EXIT_REFUSED, CheckRequest, Verdict, check
from otpgate.store.db import make_engine
from otpgate.store.models import AuditEvent
from otpgate.store.schema import upgrade
from pg_cluster import Cluster, throwaway_cluster

REQUESTS_PER_THREAD = 40
THREADS = 3


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    try:
        with throwaway_cluster() as running:
            yield running
    except FileNotFoundError as exc:
        unavailable(str(exc))


def _load(api: ApiHarness, headers: dict[str, str], statuses: Counter[tuple[int, bool]],
          stop: threading.Event) -> None:
    """Read a user's 2FA status until told to stop; count (status, has Retry-After)."""
    for _ in range(REQUESTS_PER_THREAD):
        if stop.is_set():
            return
        response = api.client.get("/api/v1/users/alice/2fa", headers=headers)
        statuses[(response.status_code, "retry-after" in response.headers)] += 1
        time.sleep(0.05)


def _pam(url: str, home: Path, code: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "PAM_USER": "alice", "PAM_RHOST": "192.0.2.1",
           "PAM_SERVICE": "sshd", "OTPGATE_HOME": str(home), "OTPGATE_DATABASE_URL": url,
           "OTPGATE_SECRET_KEYS": "k:" + "A" * 43}
    return subprocess.run([sys.executable, "-m", "otpgate", "pam"], input=f"{code}\n",
                          env=env, capture_output=True, text=True, timeout=60, check=False)


def _daemon_check(api: ApiHarness, code: str) -> Verdict:
    """A check as ``otpgate pam-daemon`` makes it: on its one long-lived context."""
    request = CheckRequest(system_user="alice", rhost="192.0.2.1", service="sshd",
                           answer=code.encode())
    return check(request, user_map=None, context=lambda: nullcontext(api.ctx))


def test_outage_under_load_then_recovery_without_restart(
    cluster: Cluster, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """See the module docstring."""
    engine = make_engine(cluster.url, pool_size=4)
    # The production pool may ping before each checkout; this test proves recovery without.
    engine.pool._pre_ping = False
    upgrade(engine)
    caplog.set_level(logging.INFO)
    with api_harness(engine, tmp_path / "home") as api:
        _alice, secret = api.enrolled("alice")
        headers = api.auth("verify")
        first = api.code(secret)
        ok = api.client.post("/api/v1/verify", json={"username": "alice", "code": first},
                             headers=headers)
        assert ok.status_code == 200, ok.text
        statuses: Counter[tuple[int, bool]] = Counter()
        stop = threading.Event()
        workers = [threading.Thread(target=_load, args=(api, headers, statuses, stop))
                   for _ in range(THREADS)]
        for worker in workers:
            worker.start()
        try:
            time.sleep(0.3)
            cluster.stop()
            time.sleep(0.5)
            api.clock.advance(30)
            second = api.code(secret)
            down = api.client.post("/api/v1/verify", json={"username": "alice",
                                                          "code": second}, headers=headers)
            page = api.client.get("/login", headers={"Cookie": f"otpgate_session={'x' * 43}"})
            pam = _pam(cluster.url, tmp_path / "pam-home", second)
            daemon_down = _daemon_check(api, second)
        finally:
            stop.set()
            for worker in workers:
                worker.join(60)
        cluster.start()

        assert down.status_code == 503, down.text
        assert down.headers["retry-after"] == "5"
        assert down.json()["error"] == "unavailable"
        assert page.status_code == 503
        assert page.headers["retry-after"] == "5"
        assert "The service is unavailable. Try again shortly." in page.text
        assert "Traceback" not in page.text and "psycopg" not in page.text
        assert pam.returncode == 5, pam.stderr
        lines = pam.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(
            "otpgate-pam: refused, otpgate unavailable: DatabaseUnavailable"), pam.stderr
        # Under load every answer was a success or a 503 that says when to come back.
        assert set(statuses) <= {(200, False), (503, True)}, statuses
        assert statuses[(503, True)] > 0, statuses

        # Same process, same pool: the first requests after the restart already work.
        again = api.client.post("/api/v1/verify", json={"username": "alice", "code": first},
                                headers=headers)
        assert again.status_code == 401 and again.json()["reason"] == "replayed"
        late = api.client.post("/api/v1/verify", json={"username": "alice", "code": second},
                               headers=headers)
        assert late.status_code == 200, late.text
        replay = api.client.post("/api/v1/verify", json={"username": "alice", "code": second},
                                 headers=headers)
        assert replay.status_code == 401 and replay.json()["reason"] == "replayed"
        assert api.client.get("/api/v1/users/alice/2fa", headers=headers).status_code == 200
        # The PAM daemon's long-lived context recovers the same way.
        assert daemon_down.status == EXIT_ERROR
        assert daemon_down.message.startswith("refused, otpgate unavailable: DatabaseUnavailable")
        api.clock.advance(30)
        third = api.code(secret)
        assert _daemon_check(api, third).status == EXIT_OK
        assert _daemon_check(api, third).status == EXIT_REFUSED

        # A restart between two requests leaves every pooled connection dead: the first
        # request meets one, and the whole pool is replaced, not one connection at a time.
        pool = engine.pool
        assert isinstance(pool, QueuePool)
        opened = pool.checkedin()
        assert opened >= 2, opened
        cluster.stop()
        cluster.start()
        answers = [api.client.get("/api/v1/users/alice/2fa", headers=headers).status_code
                   for _ in range(opened + 2)]
        assert answers.count(503) <= 1 and answers[1:] == [200] * (opened + 1), answers
    with engine.connect() as conn:
        accepted = conn.scalar(select(func.count()).select_from(AuditEvent)
                               .where(AuditEvent.kind == "login.ok"))
    engine.dispose()
    assert accepted == 3  # the first, second and third codes, once each
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert tracebacks == [], [r.getMessage() for r in tracebacks]
