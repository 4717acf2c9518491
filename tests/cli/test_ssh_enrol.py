"""``otpgate ssh enrol`` in a real process: identity from the kernel (or sudo), password asked."""

from __future__ import annotations

import base64
import os
import pwd
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest

from conftest import unavailable
from otpgate.config import Settings
from otpgate.service import audit, enrolment, users
from otpgate.service.context import Context, Origin, build_context

PASSWORD = "correct horse battery"
OPERATOR = Origin(source="cli", user_agent="cli:pytest")


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Context, Path, Path]]:
    """An installation with user alice; a settings file; a map nobody → alice."""
    if os.geteuid() != 0:
        unavailable("the enrolment tests run as root, standing in for sudo")
    key = base64.urlsafe_b64encode(bytes(range(32))).decode().rstrip("=")
    values = {
        "OTPGATE_HOME": str(tmp_path / "home"),
        "OTPGATE_SECRET_KEYS": f"k1:{key}",
        "OTPGATE_ARGON2_TIME_COST": "1",
        "OTPGATE_ARGON2_MEMORY_KIB": "8",
        "OTPGATE_ARGON2_PARALLELISM": "1",
    }
    env_file = tmp_path / "otpgate.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()), encoding="utf-8")
    env_file.chmod(0o600)
    user_map = tmp_path / "users.map"
    user_map.write_text("nobody alice\n", encoding="utf-8")
    ctx = build_context(Settings.from_env(values), migrate=True)
    users.create_user(ctx, OPERATOR, "alice", PASSWORD)
    try:
        yield ctx, env_file, user_map
    finally:
        ctx.session_factory.kw["bind"].dispose()


def _start(env_file: Path, user_map: Path, sudo_uid: str | None) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTPGATE_", "SUDO_"))}
    if sudo_uid is not None:
        env["SUDO_UID"] = sudo_uid
    return subprocess.Popen(
        [sys.executable, "-m", "otpgate", "ssh", "enrol", "--config", str(env_file),
         "--map", str(user_map)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env,
    )


def test_enrol_through_sudo(setup: tuple[Context, Path, Path]) -> None:
    """Run as root for SUDO_UID=nobody: enrols alice (mapped) after her password and a code."""
    ctx, env_file, user_map = setup
    proc = _start(env_file, user_map, str(pwd.getpwnam("nobody").pw_uid))
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(PASSWORD + "\n")
    proc.stdin.flush()
    secret = ""
    for line in proc.stdout:
        if line.strip().startswith("secret:"):
            secret = line.split(":", 1)[1].replace(" ", "").strip()
            break
    assert secret, proc.stderr.read() if proc.stderr else ""
    rest, err = proc.communicate(pyotp.TOTP(secret).now() + "\n", timeout=60)
    assert proc.returncode == 0, err
    assert "Recovery codes" in rest
    alice = users.find_user(ctx, "alice")
    assert alice.has_2fa
    assert [c.name for c in enrolment.list_credentials(ctx, alice.id)] == ["Terminal enrolment"]
    (event,) = audit.query_audit(ctx, username="alice", kind="2fa.enabled")
    assert event.source == "cli" and event.user_agent == "cli:ssh-enrol:nobody"


def test_root_without_sudo_is_refused(setup: tuple[Context, Path, Path]) -> None:
    """Root on behalf of nobody cannot enrol anyone: exit 1, one line, nothing asked."""
    ctx, env_file, user_map = setup
    proc = _start(env_file, user_map, None)
    out, err = proc.communicate(PASSWORD + "\n", timeout=60)
    assert proc.returncode == 1
    assert "root cannot enrol" in err and "Traceback" not in err
    assert "password" not in out
    assert not users.find_user(ctx, "alice").has_2fa


def test_wrong_password_is_refused(setup: tuple[Context, Path, Path]) -> None:
    """A wrong otpgate password stops the enrolment before any secret is shown."""
    ctx, env_file, user_map = setup
    proc = _start(env_file, user_map, str(pwd.getpwnam("nobody").pw_uid))
    out, err = proc.communicate("not the password\n", timeout=60)
    assert proc.returncode == 1
    assert "secret:" not in out and "Traceback" not in err
    assert audit.query_audit(ctx, username="alice", kind="login.password_failed")
    assert not users.find_user(ctx, "alice").has_2fa
