"""``otpgate ssh setup``: the PAM and sshd lines, printed or installed with backups.

Two modes. *publickey* (default): a key, then the code (``AuthenticationMethods
publickey,keyboard-interactive``); the PAM stack asks only for the code, so Debian's
``@include common-auth`` is commented out. *password*: the Unix password, then the
code, both in one keyboard-interactive exchange (``common-auth`` stays, our line follows).

Installing edits ``etc/pam.d/sshd`` between ``# BEGIN otpgate`` / ``# END otpgate``
markers (re-running replaces the block; lines it commented out carry a ``#otpgate#``
prefix) and writes ``etc/ssh/sshd_config.d/00-otpgate.conf``: sshd keeps the *first*
value of a keyword and Debian includes that directory at the top of ``sshd_config``, so
the ``00-`` name wins over later drop-ins such as cloud-init's ``50-cloud-init.conf``.
Each changed file is first copied to ``NAME.otpgate-backup-YYYYMMDDTHHMMSS``.

With a socket (``--socket``), the module line also has ``socket=…``: the module asks
``otpgate pam-daemon`` and runs the helper only when the daemon cannot be reached;
installing then also writes the daemon's systemd unit, ``otpgate-pam.service``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from otpgate.cli._errors import EXIT_NOT_FOUND, CliError
from otpgate.cli._units import shipped_unit

__all__ = ["DAEMON_UNIT", "SetupPlan", "daemon_unit", "install", "pam_block", "sshd_settings"]

BEGIN, END = "# BEGIN otpgate", "# END otpgate"
DISABLED = "#otpgate# "
COMMON_AUTH = "@include common-auth"
PAM_FILE = Path("etc/pam.d/sshd")
SSHD_CONFIG = Path("etc/ssh/sshd_config")
DROP_IN = Path("etc/ssh/sshd_config.d/00-otpgate.conf")
DAEMON_UNIT = Path("etc/systemd/system/otpgate-pam.service")


@dataclass(frozen=True)
class SetupPlan:
    """What to configure: the module's options and the login mode."""

    helper: str
    module: str = "pam_otpgate.so"
    config: str = ""
    user_map: str = ""
    group: str = ""
    nullok: bool = False
    with_password: bool = False
    socket: str = ""


def _module_line(plan: SetupPlan) -> str:
    words = ["auth", "required", plan.module]
    words += [f"socket={plan.socket}"] if plan.socket else []
    words += [f"helper={plan.helper}"]
    words += [f"config={plan.config}"] if plan.config else []
    words += [f"map={plan.user_map}"] if plan.user_map else []
    words += [f"group={plan.group}"] if plan.group else []
    words += ["nullok"] if plan.nullok else []
    for word in words:
        if any(ch.isspace() for ch in word) or not word:
            raise CliError(f"PAM options cannot contain spaces: {word!r}")
    return " ".join(words)


def pam_block(plan: SetupPlan) -> list[str]:
    """The marked block of ``/etc/pam.d/sshd`` lines."""
    why = "after the password" if plan.with_password else "the only question after the key"
    return [BEGIN, f"# otpgate asks for the verification code ({why})", _module_line(plan), END]


def daemon_unit(plan: SetupPlan, socket: str) -> list[str]:
    """The shipped ``otpgate-pam.service`` running ``otpgate pam-daemon`` on ``socket`` with
    the plan's files (one unit file in the package is the source of both)."""
    command = [plan.helper, "pam-daemon", "--socket", socket]
    command += ["--config", plan.config] if plan.config else []
    command += ["--map", plan.user_map] if plan.user_map else []
    # systemd creates /run/otpgate at each start; another socket directory is the admin's.
    runtime = Path(socket).parent == Path("/run/otpgate")
    return [
        f"ExecStart={' '.join(command)}" if line.startswith("ExecStart=") else line
        for line in shipped_unit("otpgate-pam.service")
        if runtime or not line.startswith("RuntimeDirectory")
    ]


def sshd_settings(plan: SetupPlan) -> list[str]:
    """The ``sshd_config`` settings, as the drop-in file's lines."""
    methods = "keyboard-interactive" if plan.with_password else "publickey,keyboard-interactive"
    return [
        "# Written by `otpgate ssh setup`: two-factor SSH logins through PAM.",
        "UsePAM yes",
        "KbdInteractiveAuthentication yes",
        # Plain "password" authentication cannot ask a second question: off.
        "PasswordAuthentication no",
        f"AuthenticationMethods {methods}",
    ]


def _without_block(lines: list[str]) -> list[str]:
    kept: list[str] = []
    inside = False
    for line in lines:
        if line.strip() == BEGIN:
            inside = True
        elif line.strip() == END:
            inside = False
        elif not inside:
            kept.append(line.removeprefix(DISABLED))
    return kept


def edited_pam(text: str, plan: SetupPlan) -> str:
    """``/etc/pam.d/sshd`` with the otpgate block in place (idempotent)."""
    lines = _without_block(text.splitlines())
    at = next((i for i, line in enumerate(lines) if line.strip() == COMMON_AUTH), None)
    if at is None:  # no Debian include: before the first auth line, else at the top
        at = next((i for i, line in enumerate(lines) if line.split()[:1] == ["auth"]), 0)
        return "\n".join([*lines[:at], *pam_block(plan), *lines[at:]]) + "\n"
    if plan.with_password:
        return "\n".join([*lines[: at + 1], *pam_block(plan), *lines[at + 1 :]]) + "\n"
    disabled = DISABLED + lines[at]
    return "\n".join([*lines[:at], *pam_block(plan), disabled, *lines[at + 1 :]]) + "\n"


def _write(path: Path, text: str, stamp: str) -> str:
    """Replace ``path`` atomically after backing it up; a line saying what happened."""
    old = path.read_text(encoding="utf-8") if path.exists() else None
    if old == text:
        return f"unchanged: {path}"
    path.parent.mkdir(parents=True, exist_ok=True)
    backup = ""
    if old is not None:
        copy = path.with_name(f"{path.name}.otpgate-backup-{stamp}")
        shutil.copy2(path, copy)
        backup = f" (backup: {copy})"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return f"wrote {path}{backup}"


def install(root: Path, plan: SetupPlan, now: datetime | None = None) -> list[str]:
    """Install both files under ``root`` (``/`` in production); report lines."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S")
    pam_path = root / PAM_FILE
    if not pam_path.is_file():
        raise CliError(f"{pam_path} not found: is openssh-server installed?", EXIT_NOT_FOUND)
    report = [_write(pam_path, edited_pam(pam_path.read_text(encoding="utf-8"), plan), stamp)]
    report.append(_write(root / DROP_IN, "\n".join(sshd_settings(plan)) + "\n", stamp))
    if plan.socket:
        unit = "\n".join(daemon_unit(plan, plan.socket)) + "\n"
        report.append(_write(root / DAEMON_UNIT, unit, stamp))
        report.append("start the daemon: systemctl daemon-reload && "
                      "systemctl enable --now otpgate-pam")
    main_config = root / SSHD_CONFIG
    included = main_config.is_file() and any(
        line.split()[:1] == ["Include"] and "sshd_config.d" in line
        for line in main_config.read_text(encoding="utf-8").splitlines()
    )
    if not included:
        report.append(
            f"warning: {main_config} does not include sshd_config.d/*.conf: add "
            "'Include /etc/ssh/sshd_config.d/*.conf' at its top"
        )
    report.append("check with `sshd -t`, then reload sshd; keep a root session open meanwhile")
    return report
