"""A ~/.google_authenticator file imported with the CLI, then used through pamtester."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from conftest import need_tool
from otpgate.cli import main
from otpgate.service import audit

from .conftest import Otpgate, ServiceFactory, otpgate_values, pamtester

# An 80-bit secret, as google-authenticator writes by default.
SECRET = "JBSWY3DPEHPK3PXP"
SCRATCH = ["12345678", "87654321", "55554444"]


def _import(otpgate: Otpgate, monkeypatch: pytest.MonkeyPatch, path: Path, user: str) -> int:
    for key, value in otpgate_values(otpgate.home).items():
        monkeypatch.setenv(key, value)
    return main(["import", "google-authenticator", str(path), "--user", user])


def _oathtool(*args: str) -> str:
    result = subprocess.run([need_tool("oathtool"), *args], capture_output=True, text=True,
                            check=True, timeout=30)
    return result.stdout.strip()


def test_imported_totp_and_scratch_codes(
    tmp_path: Path, otpgate: Otpgate, pam_service: ServiceFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """oathtool's code for the imported secret logs in; a scratch code works exactly once."""
    otpgate.add_user("dave", enrol=False)
    ga_file = tmp_path / ".google_authenticator"
    ga_file.write_text(
        f'{SECRET}\n" RATE_LIMIT 3 30\n" WINDOW_SIZE 17\n" DISALLOW_REUSE\n" TOTP_AUTH\n'
        + "".join(f"{c}\n" for c in SCRATCH),
        encoding="ascii",
    )
    assert _import(otpgate, monkeypatch, ga_file, "dave") == 0
    service = pam_service(f"config={otpgate.env_file}")
    code = _oathtool("--totp", "-b", "-N", f"@{int(time.time()) + 30}", SECRET)
    assert pamtester(service, "dave", code) == 0
    assert pamtester(service, "dave", SCRATCH[1]) == 0
    assert pamtester(service, "dave", SCRATCH[1]) == 1
    assert pamtester(service, "dave", "99999999") == 1
    # Typed with a space in the middle, as a TOTP code may be.
    assert pamtester(service, "dave", "5555 4444") == 0
    assert pamtester(service, "dave", "5555 4444") == 1
    kinds = [e.kind for e in audit.query_audit(otpgate.ctx, username="dave")]
    assert kinds.count("2fa.enabled") == 1
    assert kinds.count("recovery.used") == 2


def test_imported_hotp_counter(
    tmp_path: Path, otpgate: Otpgate, pam_service: ServiceFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An HOTP file continues at its counter: codes before it are refused, the next works."""
    otpgate.add_user("erin", enrol=False)
    ga_file = tmp_path / ".google_authenticator"
    ga_file.write_text(f'{SECRET}\n" WINDOW_SIZE 3\n" HOTP_COUNTER 5\n11112222\n', encoding="ascii")
    assert _import(otpgate, monkeypatch, ga_file, "erin") == 0
    service = pam_service(f"config={otpgate.env_file}")
    assert pamtester(service, "erin", _oathtool("--hotp", "-b", "-c", "4", SECRET)) == 1
    assert pamtester(service, "erin", _oathtool("--hotp", "-b", "-c", "5", SECRET)) == 0
