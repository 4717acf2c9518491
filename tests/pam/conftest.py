"""Fixtures of the PAM tests: the built module, a real otpgate database, PAM service files.

These tests run real components as root: the C module built with ``make pam``, Debian's
``pamtester``, and ``otpgate pam`` started by the module. Each PAM service file is
``/etc/pam.d/otpgate-test-<random>`` and is removed at the end; the system's own files
are never touched.
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyotp
import pytest

from conftest import need_tool, unavailable
from otpgate.config import Settings
from otpgate.service import enrolment, users
from otpgate.service.context import Context, Origin, build_context

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"
KEY = bytes(range(32))
WEB = Origin(source="web", client_addr="203.0.113.7", user_agent="pytest")
OPERATOR = Origin(source="cli", user_agent="cli:pytest")


def closed_port() -> int:
    """A loopback port where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture(scope="session")
def pam_module() -> Path:
    """``pam/pam_otpgate.so``, built by ``make pam`` with warnings as errors."""
    if os.geteuid() != 0:
        unavailable("the PAM tests need root (they write /etc/pam.d files)")
    need_tool("make")
    need_tool("gcc")
    if not Path("/usr/include/security/pam_modules.h").exists():
        unavailable("libpam0g-dev is not installed (make test installs it when run as root)")
    subprocess.run(["make", "-s", "-C", str(ROOT), "pam"], check=True, timeout=120)
    return ROOT / "pam" / "pam_otpgate.so"


@pytest.fixture(scope="session")
def helper() -> Path:
    """The installed ``otpgate`` script of this environment (run by the module as root)."""
    path = Path(sys.executable).parent / "otpgate"
    if not path.is_file():
        unavailable(f"{path} is missing: run pip install -e .")
    return path


@dataclass
class Otpgate:
    """A private otpgate installation: data directory, settings file, service context."""

    home: Path
    env_file: Path
    ctx: Context

    def add_user(self, name: str, *, enrol: bool = True) -> str:
        """Create an otpgate user; with ``enrol``, a confirmed TOTP authenticator (its secret)."""
        user = users.create_user(self.ctx, OPERATOR, name, PASSWORD)
        if not enrol:
            return ""
        pending = enrolment.begin_enrolment(self.ctx, WEB, user.id, step_up_at=self.ctx.now_dt())
        code = pyotp.TOTP(pending.secret_b32).now()
        enrolment.confirm_enrolment(self.ctx, WEB, user.id, pending.credential_id, code, "phone")
        return pending.secret_b32


def write_env_file(path: Path, values: dict[str, str]) -> Path:
    """A settings file of ``OTPGATE_*`` lines, mode 0600."""
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()), encoding="utf-8")
    path.chmod(0o600)
    return path


def otpgate_values(home: Path) -> dict[str, str]:
    """Settings of a test installation: SQLite in ``home``, a fixed key, cheap argon2."""
    key = base64.urlsafe_b64encode(KEY).decode().rstrip("=")
    return {
        "OTPGATE_HOME": str(home),
        "OTPGATE_SECRET_KEYS": f"k1:{key}",
        "OTPGATE_ARGON2_TIME_COST": "1",
        "OTPGATE_ARGON2_MEMORY_KIB": "8",
        "OTPGATE_ARGON2_PARALLELISM": "1",
    }


@pytest.fixture
def otpgate(tmp_path: Path) -> Iterator[Otpgate]:
    """A migrated SQLite database and its settings file, at the real time (the helper's)."""
    home = tmp_path / "home"
    values = otpgate_values(home)
    ctx = build_context(Settings.from_env(values), migrate=True)
    try:
        yield Otpgate(home, write_env_file(tmp_path / "otpgate.env", values), ctx)
    finally:
        ctx.session_factory.kw["bind"].dispose()


ServiceFactory = Callable[..., str]


@pytest.fixture
def pam_service(pam_module: Path, helper: Path) -> Iterator[ServiceFactory]:
    """A function writing ``/etc/pam.d/otpgate-test-<random>`` with module options; its name."""
    created: list[Path] = []

    def _make(*options: str, name: str = "", with_helper: bool = True) -> str:
        service = name or f"otpgate-test-{secrets.token_hex(4)}"
        path = Path("/etc/pam.d") / service
        helper_option = [f"helper={helper}"] if with_helper else []
        line = " ".join(["auth", "required", str(pam_module), *helper_option, *options])
        path.write_text(
            f"# temporary, written by otpgate's tests\n{line}\n"
            "account required pam_permit.so\nsession required pam_permit.so\n"
            "password required pam_deny.so\n",
            encoding="utf-8",
        )
        created.append(path)
        return service

    try:
        yield _make
    finally:
        for path in created:
            path.unlink(missing_ok=True)


def pamtester(service: str, user: str, answer: str | bytes) -> int:
    """Run ``pamtester SERVICE USER authenticate`` answering the prompt; its exit status."""
    data = answer if isinstance(answer, bytes) else (answer + "\n").encode()
    result = subprocess.run(
        [need_tool("pamtester"), service, user, "authenticate"],
        input=data, capture_output=True, timeout=60, check=False,
    )
    assert b"Password" not in result.stdout + result.stderr
    return result.returncode


def next_code(secret: str) -> str:
    """The code of the next time step: not yet used, and inside the ±1 window."""
    return str(pyotp.TOTP(secret).at(int(time.time()) + 30))


@dataclass
class UnixUser:
    name: str
    uid: int
    home: Path


@pytest.fixture
def unix_user() -> Iterator[Callable[..., UnixUser]]:
    """A function creating throw-away system users (``useradd -m``), removed at the end."""
    made: list[str] = []

    def _make(groups: str = "") -> UnixUser:
        useradd = need_tool("useradd")
        name = f"otpt{secrets.token_hex(3)}"
        argv = [useradd, "-m", "-s", "/bin/sh"] + (["-G", groups] if groups else []) + [name]
        subprocess.run(argv, check=True, timeout=30)
        made.append(name)
        import pwd

        entry = pwd.getpwnam(name)
        return UnixUser(name, entry.pw_uid, Path(entry.pw_dir))

    try:
        yield _make
    finally:
        for name in made:
            subprocess.run([need_tool("userdel"), "-r", name], check=False, timeout=30,
                           capture_output=True)


@pytest.fixture
def unix_group() -> Iterator[str]:
    """A throw-away system group, removed at the end."""
    name = f"otptg{secrets.token_hex(3)}"
    subprocess.run([need_tool("groupadd"), name], check=True, timeout=30)
    try:
        yield name
    finally:
        subprocess.run([need_tool("groupdel"), name], check=False, timeout=30)


@dataclass
class Daemon:
    """A running ``otpgate pam-daemon``: its socket, log file and process."""

    socket: Path
    log: Path
    proc: subprocess.Popen[bytes]

    def log_text(self) -> str:
        """What the daemon has written so far."""
        return self.log.read_text(encoding="utf-8", errors="replace")


def start_daemon(socket_path: Path, log: Path, *options: str) -> subprocess.Popen[bytes]:
    """Start ``otpgate pam-daemon`` (clean environment, as a service manager would) and wait
    until its socket answers."""
    otpgate_bin = Path(sys.executable).parent / "otpgate"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [str(otpgate_bin), "pam-daemon", "--socket", str(socket_path), *options],
            stdout=out, stderr=subprocess.STDOUT,
            env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"},
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"pam-daemon exited: {log.read_text(errors='replace')}")
        if "listening on" in log.read_text(errors="replace"):
            return proc
        time.sleep(0.02)
    proc.kill()
    pytest.fail(f"pam-daemon did not start: {log.read_text(errors='replace')}")


@pytest.fixture
def daemon(otpgate: Otpgate, pam_module: Path) -> Iterator[Daemon]:
    """``otpgate pam-daemon`` on a socket in a fresh directory, with the test's settings."""
    # Not under tmp_path: a Unix socket path must stay under 108 bytes.
    base = Path(tempfile.mkdtemp(prefix="otpgd-"))
    socket_path = base / "run" / "pam.sock"
    log = base / "daemon.log"
    proc = start_daemon(socket_path, log, "--config", str(otpgate.env_file), "--timeout", "1")
    try:
        yield Daemon(socket_path, log, proc)
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=20)
        shutil.rmtree(base, ignore_errors=True)
