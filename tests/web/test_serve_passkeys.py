"""``otpgate serve`` refuses to start when the passkey RP ID disagrees with its address."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_serve_stops_at_start_up_when_the_rp_id_does_not_fit_the_portal_address(
    tmp_path: Path,
) -> None:
    """Exit status 5 and one line naming both variables; no traceback, nothing created."""
    env = {**os.environ, "OTPGATE_HOME": str(tmp_path / "home"),
           "OTPGATE_BASE_URL": "https://auth.example.com",
           "OTPGATE_WEBAUTHN_RP_ID": "example.org"}
    env.pop("OTPGATE_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "otpgate", "serve", "--port", "1"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 5, done.stderr
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert "OTPGATE_WEBAUTHN_RP_ID 'example.org' does not match" in line
    assert "OTPGATE_BASE_URL" in line
    assert not (tmp_path / "home").exists()
