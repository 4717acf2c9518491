"""``otpgate ssh setup`` and the daemon: the socket= module line and the systemd unit."""

from __future__ import annotations

from pathlib import Path

import pytest

from otpgate.cli import main

from .test_ssh_setup import HELPER, _root

SOCKET = "/run/otpgate/pam.sock"
EXEC = f"ExecStart={HELPER} pam-daemon --socket {SOCKET} --config /etc/otpgate/pam.env"


def test_prints_the_socket_variant(capsys: pytest.CaptureFixture[str]) -> None:
    """Without --socket the helper line comes first, then the socket line and the unit."""
    assert main(["ssh", "setup", "--helper", HELPER]) == 0
    out = capsys.readouterr().out.splitlines()
    helper_line = f"auth required pam_otpgate.so helper={HELPER} config=/etc/otpgate/pam.env"
    socket_line = (f"auth required pam_otpgate.so socket={SOCKET} helper={HELPER} "
                   "config=/etc/otpgate/pam.env")
    assert out.index(helper_line) < out.index(socket_line) < out.index(EXEC)
    assert "RuntimeDirectoryMode=0700" in out


def test_write_with_socket(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--write --socket puts socket= in the module line and installs the daemon's unit."""
    root = _root(tmp_path)
    argv = ["ssh", "setup", "--write", "--root", str(root), "--helper", HELPER,
            "--socket", SOCKET, "--map", "/etc/otpgate/users.map"]
    assert main(argv) == 0
    pam = (root / "etc/pam.d/sshd").read_text(encoding="utf-8")
    assert f"pam_otpgate.so socket={SOCKET} helper={HELPER} " in pam
    unit = (root / "etc/systemd/system/otpgate-pam.service").read_text(encoding="utf-8")
    assert f"{EXEC} --map /etc/otpgate/users.map\n" in unit
    assert "enable --now otpgate-pam" in capsys.readouterr().out
    assert main(argv) == 0  # again: nothing changes, no second backup
    assert "wrote" not in capsys.readouterr().out
