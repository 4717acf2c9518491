"""The data directory, the SQLite files and the key file are private to their owner.

Real ``python -m otpgate`` processes with the usual umask 022: what otpgate creates is
0700/0600, and every command that opens the home refuses one that group or others may
open, with exit 5 and one line giving the ``chmod`` that fixes it.
"""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from otpgate.store.db import make_engine
from otpgate_process import free_port, otpgate_env

PASSWORD = "correct horse battery"
TIMEOUT = 60


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _otpgate(home: Path, *argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "otpgate", *argv],
        input=stdin, capture_output=True, text=True, env=otpgate_env(home), timeout=TIMEOUT,
        check=False, umask=0o022,
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A home made by ``otpgate user add`` under umask 022, alice in it."""
    path = tmp_path / "home"
    created = _otpgate(path, "user", "add", "alice", "--admin", stdin=PASSWORD + "\n")
    assert created.returncode == 0, created.stderr
    return path


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_a_new_home_is_private(home: Path) -> None:
    """Under umask 022 the home is 0700, the database and the key file 0600."""
    assert _mode(home) == 0o700
    assert _mode(home / "otpgate.db") == 0o600
    assert _mode(home / "secret.keys") == 0o600


@pytest.mark.usefixtures("umask_022")
def test_sqlite_gives_wal_and_shm_the_database_mode(tmp_path: Path) -> None:
    """While a connection writes, SQLite's -wal and -shm files exist, and are 0600 too."""
    db = tmp_path / "fresh" / "otpgate.db"
    engine = make_engine(f"sqlite:///{db}")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
        with engine.connect() as conn:  # keeps the WAL open while we look
            assert conn.execute(text("SELECT x FROM t")).scalar() == 1
            wal, shm = db.with_name("otpgate.db-wal"), db.with_name("otpgate.db-shm")
            assert wal.exists() and shm.exists()
            assert [_mode(p) for p in (db.parent, db, wal, shm)] == [0o700, 0o600, 0o600, 0o600]
    finally:
        engine.dispose()


# Every command that opens the home (``code`` and ``uri`` do not).
COMMANDS = [
    ["user", "list"],
    ["user", "show", "alice"],
    ["2fa", "status", "alice"],
    ["audit"],
    ["token", "list"],
    ["keys", "rotate"],
    ["group", "list", "alice"],
    ["db", "current"],
    ["db", "upgrade"],
    ["mail", "send-pending"],
    ["serve", "--port", "0"],
]


def _assert_refused(result: subprocess.CompletedProcess[str], fix: str) -> None:
    assert result.returncode == 5, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("otpgate: error: ") and lines[0].endswith(f"run: {fix}")


def _listing(home: Path) -> list[str]:
    return sorted(p.name for p in home.iterdir())


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_every_command_refuses_a_home_others_can_enter(home: Path, argv: list[str]) -> None:
    """A home of mode 0755: exit 5, the chmod in one line, nothing created or changed."""
    home.chmod(0o755)
    before = _listing(home), (home / "secret.keys").read_bytes()
    result = _otpgate(home, *[str(free_port()) if a == "0" else a for a in argv])
    _assert_refused(result, f"chmod 700 {shlex.quote(str(home))}")
    assert (_listing(home), (home / "secret.keys").read_bytes()) == before


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_every_command_refuses_a_database_others_can_read(home: Path, argv: list[str]) -> None:
    """A database file of mode 0644 (as older versions left it): exit 5 and the chmod."""
    (home / "otpgate.db").chmod(0o644)
    result = _otpgate(home, *[str(free_port()) if a == "0" else a for a in argv])
    _assert_refused(result, f"chmod 600 {home / 'otpgate.db'}")


def test_a_readable_wal_file_is_named_too(home: Path) -> None:
    """A -wal file others may read is refused with the database file in the same chmod."""
    db, wal = home / "otpgate.db", home / "otpgate.db-wal"
    wal.write_bytes(b"")
    wal.chmod(0o644)
    db.chmod(0o640)
    _assert_refused(_otpgate(home, "user", "list"), f"chmod 600 {db} {wal}")


def test_a_readable_key_file_is_refused(home: Path) -> None:
    """A key file of mode 0644: exit 5 and the chmod that fixes it."""
    keys = home / "secret.keys"
    keys.chmod(0o644)
    _assert_refused(_otpgate(home, "user", "list"), f"chmod 600 {keys}")


def test_after_the_chmod_the_command_works(home: Path) -> None:
    """The fix the message gives is enough."""
    home.chmod(0o750)
    assert _otpgate(home, "user", "list").returncode == 5
    home.chmod(0o700)
    listing = _otpgate(home, "user", "list")
    assert listing.returncode == 0 and "alice" in listing.stdout


def test_the_pam_helper_refuses_a_home_others_can_enter(home: Path) -> None:
    """``otpgate pam`` (one SSH login) on a home of mode 0755: the login is refused with
    exit 5 and one log line that is a configuration error giving the chmod."""
    home.chmod(0o755)
    result = subprocess.run(
        [sys.executable, "-m", "otpgate", "pam"], input="123456\n", capture_output=True,
        text=True, env={**otpgate_env(home), "PAM_USER": "alice"}, timeout=TIMEOUT, check=False,
    )
    assert result.returncode == 5
    assert result.stderr.splitlines() == [
        f"otpgate-pam: configuration error: data directory {home} is accessible by group or "
        f"others (mode 0755); run: chmod 700 {home}"
    ]
