"""A real ``python -m otpgate`` process: refusals reach the user as one line, never a traceback."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time

import pytest

from conftest import need_tool

from .test_db import closed_port_url

PASSWORD = "correct horse battery"
TIMEOUT = 60


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A process environment on an embedded SQLite file, with alice already created.

    Shared by the tests of this module: each of them is refused and changes nothing.
    """
    tmp_path = tmp_path_factory.mktemp("subprocess")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OTPGATE_")}
    environ.update(
        OTPGATE_HOME=str(tmp_path / "home"),
        OTPGATE_ARGON2_TIME_COST="1",
        OTPGATE_ARGON2_MEMORY_KIB="8",
        OTPGATE_ARGON2_PARALLELISM="1",
    )
    created = _otpgate(environ, "user", "add", "alice", "--admin", stdin=PASSWORD + "\n")
    assert created.returncode == 0, created.stderr
    return environ


def _otpgate(
    env: dict[str, str], *argv: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "otpgate", *argv],
        input=stdin, capture_output=True, text=True, env=env, timeout=TIMEOUT, check=False,
    )


def _assert_one_line(stderr: str, expected: str) -> None:
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("otpgate: error: ") and expected in lines[0], stderr


@pytest.mark.parametrize(
    ("argv", "stdin", "code", "expected"),
    [
        (["user", "show", "nobody"], "", 3, "No such user"),
        (["user", "add", "Alice"], PASSWORD + "\n", 4, "already taken"),
        (["audit", "--since", "last tuesday"], "", 2, "--since"),
        (["2fa", "reset", "alice"], "", 2, "--note is required"),
        (["2fa", "reset", "alice", "--note", "ok"], "", 2, "at least 10 characters"),
        (["user", "add", "bob"], "short\n", 2, "at least 10 characters"),
        # Names and notes are text: controls and bidi overrides are refused, named.
        (["2fa", "reset", "alice", "--note", "checked ID\x1b[2J card"], "", 2, "U+001B"),
        (["user", "add", "bob", "--display-name", "Bob \u202eadmin"], PASSWORD + "\n", 2,
         "(found U+202E)"),
        (["token", "create", "portal\x9b"], "", 2, "text-direction overrides (found U+009B)"),
    ],
)
def test_refusals_are_one_line(
    env: dict[str, str], argv: list[str], stdin: str, code: int, expected: str
) -> None:
    """Each refusal exits with its code and prints exactly one line on stderr."""
    result = _otpgate(env, *argv, stdin=stdin)
    assert result.returncode == code
    assert result.stdout == ""
    _assert_one_line(result.stderr, expected)


def test_database_unreachable_is_exit_5(env: dict[str, str]) -> None:
    """A PostgreSQL URL on a closed port: exit 5 and one line."""
    result = _otpgate({**env, "OTPGATE_DATABASE_URL": closed_port_url()}, "user", "list")
    assert result.returncode == 5
    _assert_one_line(result.stderr, "database unavailable")


def test_mismatching_passwords_at_a_terminal(env: dict[str, str]) -> None:
    """Typed at a real terminal, two different passwords are refused and no user is created."""
    setsid = need_tool("setsid")
    master, slave = os.openpty()
    err_r, err_w = os.pipe()
    # setsid --ctty makes the pseudo-terminal the controlling terminal, so getpass reads
    # /dev/tty with echo off as it does for a person.
    proc = subprocess.Popen(
        [setsid, "--ctty", sys.executable, "-m", "otpgate", "user", "add", "bob"],
        stdin=slave, stdout=slave, stderr=err_w, env=env,
    )
    os.close(slave)
    os.close(err_w)
    try:
        screen = _expect(master, b"New password: ")
        os.write(master, b"first long password\n")
        screen += _expect(master, b"Repeat the new password: ")
        os.write(master, b"second long password\n")
        assert proc.wait(timeout=TIMEOUT) == 2
    finally:
        proc.kill()
        proc.wait()
        os.close(master)
    with os.fdopen(err_r) as err:
        _assert_one_line(err.read(), "the passwords do not match")
    assert b"long password" not in screen  # not echoed
    listing = _otpgate(env, "user", "list")
    assert [line.split()[0] for line in listing.stdout.splitlines()[1:]] == ["alice"]


def _expect(fd: int, prompt: bytes) -> bytes:
    """Read from the terminal until ``prompt`` has been printed."""
    seen = b""
    deadline = time.monotonic() + TIMEOUT
    while prompt not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no prompt {prompt!r}; got {seen!r}"
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            chunk = os.read(fd, 1024)
            assert chunk, f"terminal closed before {prompt!r}; got {seen!r}"
            seen += chunk
    return seen


def test_refused_names_store_nothing(env: dict[str, str]) -> None:
    """After a display name and a token name with controls were refused, neither the user
    nor the token exists."""
    assert _otpgate(env, "user", "add", "carol", "--display-name", "C\x07rol",
                    stdin=PASSWORD + "\n").returncode == 2
    assert _otpgate(env, "token", "create", "intranet\u2066").returncode == 2
    listing = _otpgate(env, "user", "list")
    assert [line.split()[0] for line in listing.stdout.splitlines()[1:]] == ["alice"]
    tokens = _otpgate(env, "token", "list")
    assert tokens.returncode == 0 and "intranet" not in tokens.stdout
