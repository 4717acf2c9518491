"""The shipped systemd units: valid for ``systemd-analyze verify``, and sandboxed."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import need_tool
from otpgate.cli import main
from otpgate.cli._units import UNIT_NAMES, shipped_unit

SHIPPED_PATH = "/usr/local/bin/otpgate"
# systemd-analyze's exposure score: 0 fully sandboxed … 10 not at all; "OK" is below 3.
MAX_EXPOSURE = 3.0


def _installed_otpgate() -> str:
    found = shutil.which("otpgate") or str(Path(sys.executable).with_name("otpgate"))
    assert Path(found).is_file(), found
    return found


def _analyze(tmp_path: Path, name: str, lines: list[str], *args: str) -> str:
    """Write the unit with an existing otpgate in ExecStart; systemd-analyze's output."""
    unit = tmp_path / name
    text = "\n".join(lines) + "\n"
    unit.write_text(text.replace(SHIPPED_PATH, _installed_otpgate()), encoding="utf-8")
    done = subprocess.run([need_tool("systemd-analyze"), *args, str(unit)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


@pytest.mark.parametrize("name", UNIT_NAMES)
def test_shipped_units_pass_systemd_analyze_verify(tmp_path: Path, name: str) -> None:
    """No warning at all (an unknown key is only a warning, so the output must be empty)."""
    assert _analyze(tmp_path, name, shipped_unit(name), "verify") == ""


@pytest.mark.parametrize("name", UNIT_NAMES)
def test_shipped_units_are_sandboxed(tmp_path: Path, name: str) -> None:
    """The sandboxing settings are there, and systemd rates the unit's exposure "OK"."""
    lines = shipped_unit(name)
    for setting in ("NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes",
                    "PrivateDevices=yes", "UMask=0077"):
        assert setting in lines, setting
    output = _analyze(tmp_path, name, lines, "security", "--offline=yes")
    score = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", output)
    assert score, output
    assert float(score[1]) < MAX_EXPOSURE, output


def test_the_portal_unit_keeps_its_data_directory_private() -> None:
    """The portal runs as its own user, with /var/lib/otpgate created 0700."""
    lines = shipped_unit("otpgate.service")
    assert {"User=otpgate", "StateDirectory=otpgate", "StateDirectoryMode=0700",
            "Environment=OTPGATE_HOME=/var/lib/otpgate", "CapabilityBoundingSet="} <= set(lines)


def test_ssh_setup_writes_the_shipped_daemon_unit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`otpgate ssh setup --socket` prints the shipped unit with its own paths, and it
    verifies."""
    helper = "/usr/local/bin/otpgate"
    assert main(["ssh", "setup", "--helper", helper, "--socket", "/run/otpgate/pam.sock",
                 "--map", "/etc/otpgate/users.map"]) == 0
    out = capsys.readouterr().out
    printed = out[out.index("[Unit]"):].splitlines()
    shipped = shipped_unit("otpgate-pam.service")
    exec_line = ("ExecStart=/usr/local/bin/otpgate pam-daemon --socket /run/otpgate/pam.sock "
                 "--config /etc/otpgate/pam.env --map /etc/otpgate/users.map")
    body = shipped[shipped.index("[Unit]"):]
    assert printed == [exec_line if line.startswith("ExecStart=") else line for line in body]
    assert _analyze(tmp_path, "otpgate-pam.service", printed, "verify") == ""
