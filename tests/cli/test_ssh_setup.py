"""``otpgate ssh setup``: printed settings, and installation under a temporary root."""

from __future__ import annotations

from pathlib import Path

import pytest

from otpgate.cli import main

DEBIAN_PAM_SSHD = """# PAM configuration for the Secure Shell service
@include common-auth
account    required     pam_nologin.so
@include common-account
@include common-session
@include common-password
"""
SSHD_CONFIG = "Include /etc/ssh/sshd_config.d/*.conf\nKbdInteractiveAuthentication no\nUsePAM yes\n"
HELPER = "/usr/local/bin/otpgate"


def _root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "etc/pam.d").mkdir(parents=True)
    (root / "etc/ssh").mkdir(parents=True)
    (root / "etc/pam.d/sshd").write_text(DEBIAN_PAM_SSHD, encoding="utf-8")
    (root / "etc/ssh/sshd_config").write_text(SSHD_CONFIG, encoding="utf-8")
    return root


def _setup(root: Path, *extra: str) -> int:
    return main(["ssh", "setup", "--write", "--root", str(root), "--helper", HELPER, *extra])


def test_prints_without_writing(capsys: pytest.CaptureFixture[str]) -> None:
    """Without --write the PAM line and sshd settings are printed."""
    assert main(["ssh", "setup", "--helper", HELPER, "--group", "staff"]) == 0
    out = capsys.readouterr().out
    assert f"auth required pam_otpgate.so helper={HELPER} config=/etc/otpgate/pam.env " \
        "group=staff" in out
    assert "AuthenticationMethods publickey,keyboard-interactive" in out
    assert "KbdInteractiveAuthentication yes" in out


def test_write_publickey_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--write comments out common-auth, adds the module line, writes the drop-in, backs up."""
    root = _root(tmp_path)
    assert _setup(root) == 0
    pam = (root / "etc/pam.d/sshd").read_text(encoding="utf-8").splitlines()
    assert "#otpgate# @include common-auth" in pam
    assert "@include common-auth" not in pam
    module = next(i for i, line in enumerate(pam) if "pam_otpgate.so" in line)
    assert module < pam.index("account    required     pam_nologin.so")
    drop_in = (root / "etc/ssh/sshd_config.d/00-otpgate.conf").read_text(encoding="utf-8")
    assert "AuthenticationMethods publickey,keyboard-interactive" in drop_in
    backups = list((root / "etc/pam.d").glob("sshd.otpgate-backup-*"))
    assert len(backups) == 1
    assert backups[0].read_text(encoding="utf-8") == DEBIAN_PAM_SSHD
    assert "warning" not in capsys.readouterr().out


def test_write_is_idempotent_and_reversible(tmp_path: Path) -> None:
    """Running again changes nothing; switching mode restores common-auth before our line."""
    root = _root(tmp_path)
    assert _setup(root) == 0
    first = (root / "etc/pam.d/sshd").read_text(encoding="utf-8")
    assert _setup(root) == 0
    assert (root / "etc/pam.d/sshd").read_text(encoding="utf-8") == first
    assert _setup(root, "--with-password") == 0
    pam = (root / "etc/pam.d/sshd").read_text(encoding="utf-8").splitlines()
    assert pam.count("@include common-auth") == 1
    assert pam.index("@include common-auth") < next(
        i for i, line in enumerate(pam) if "pam_otpgate.so" in line
    )
    assert sum("pam_otpgate.so" in line for line in pam) == 1
    drop_in = (root / "etc/ssh/sshd_config.d/00-otpgate.conf").read_text(encoding="utf-8")
    assert "AuthenticationMethods keyboard-interactive\n" in drop_in


def test_missing_pam_file_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without /etc/pam.d/sshd under the root, nothing is written and the exit code is 3."""
    root = tmp_path / "empty"
    root.mkdir()
    assert _setup(root) == 3
    assert "not found" in capsys.readouterr().err
    assert list(root.iterdir()) == []


def test_warns_without_include(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An sshd_config that does not include the drop-in directory gets a warning."""
    root = _root(tmp_path)
    (root / "etc/ssh/sshd_config").write_text("UsePAM yes\n", encoding="utf-8")
    assert _setup(root) == 0
    assert "warning" in capsys.readouterr().out


def test_option_with_space_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A PAM option containing a space cannot be written as one word: refused, exit 2."""
    root = _root(tmp_path)
    assert _setup(root, "--group", "two words") == 2
    assert (root / "etc/pam.d/sshd").read_text(encoding="utf-8") == DEBIAN_PAM_SSHD
