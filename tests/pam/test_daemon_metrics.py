"""``otpgate pam-daemon --metrics-port``: SSH code checks (pamtester through the real PAM
module and daemon) counted under channel "ssh", served to a scraper with the token."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from prometheus_client.parser import text_string_to_metric_families

from live_server import free_port

from .conftest import (
    Otpgate,
    ServiceFactory,
    next_code,
    otpgate_values,
    pamtester,
    start_daemon,
    write_env_file,
)

TOKEN = "ssh-metrics-token-0123456789"


@pytest.fixture
def daemon_with_metrics(otpgate: Otpgate, pam_module: Path) -> Iterator[tuple[Path, str]]:
    base = Path(tempfile.mkdtemp(prefix="otpgm-"))  # a socket path must stay short
    env_file = write_env_file(
        base / "otpgate.env", {**otpgate_values(otpgate.home), "OTPGATE_METRICS_TOKEN": TOKEN}
    )
    port = free_port()
    proc = start_daemon(base / "run" / "pam.sock", base / "daemon.log", "--config",
                        str(env_file), "--metrics-port", str(port))
    try:
        yield base / "run" / "pam.sock", f"http://127.0.0.1:{port}/metrics"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        shutil.rmtree(base, ignore_errors=True)


def _checks(url: str) -> dict[str, float]:
    r = httpx2.get(url, headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200, r.text
    return {
        sample.labels["outcome"]: sample.value
        for family in text_string_to_metric_families(r.text)
        for sample in family.samples
        if sample.name == "otpgate_code_checks_total" and sample.labels["channel"] == "ssh"
    }


def test_ssh_checks_are_counted(
    otpgate: Otpgate, pam_service: ServiceFactory, daemon_with_metrics: tuple[Path, str]
) -> None:
    """An accepted, a replayed, a malformed (5 digits) and a wrong code: one each, channel
    ssh (letters would make it a recovery code, which is not a code check)."""
    socket_path, url = daemon_with_metrics
    assert httpx2.get(url).status_code == 401
    assert httpx2.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
    secret = otpgate.add_user("alice")
    service = pam_service(f"socket={socket_path}", with_helper=False)
    before = _checks(url)
    code = next_code(secret)
    wrong = "000000" if code != "000000" else "111111"
    assert [pamtester(service, "alice", answer) for answer in (code, code, "12345", wrong)] == [
        0, 1, 1, 1,
    ]
    after = _checks(url)
    moved = {outcome: after[outcome] - before.get(outcome, 0.0) for outcome in after}
    assert moved == {"ok": 1, "replayed": 1, "malformed": 1, "wrong": 1, "locked": 0,
                     "not_enrolled": 0}


def test_metrics_port_needs_the_token(otpgate: Otpgate, tmp_path: Path) -> None:
    """Without OTPGATE_METRICS_TOKEN the daemon refuses to start with a one-line error."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / "otpgate"), "pam-daemon", "--socket",
         str(tmp_path / "s.sock"), "--config", str(otpgate.env_file), "--metrics-port", "9999"],
        capture_output=True, text=True, timeout=60, check=False,
        env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"},
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "otpgate: error: --metrics-port needs a port (1-65535) and OTPGATE_METRICS_TOKEN"
    ]
    assert not (tmp_path / "s.sock").exists()
