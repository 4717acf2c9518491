"""A quiet, robust command line, as real processes: no log noise on ordinary commands, a
reader that goes away early ends the command without a traceback, and servers started
together on an empty database each print a setup link that works."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx2
import pytest

from conftest import PG_ADMIN_URL
from db_support import new_postgres_database
from otpgate.security.tokens import hash_token
from otpgate.service.setup import SETUP_TOKEN_PREFIX
from otpgate.store import repositories as repo
from otpgate.store.db import make_engine, make_session_factory, transaction
from otpgate_process import ServeProcess, otpgate_env

PASSWORD = "correct horse battery"
TIMEOUT = 60
LINK = re.compile(r"http://127\.0\.0\.1:\d+/setup\?token=[A-Za-z0-9_-]+")


def _otpgate(env: dict[str, str], *argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "otpgate", *argv],
        input=stdin, capture_output=True, text=True, env=env, timeout=TIMEOUT, check=False,
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return otpgate_env(tmp_path / "home")


def test_ordinary_commands_write_nothing_on_stderr(env: dict[str, str]) -> None:
    """From an empty home (whose database the first command creates) on, no command that
    succeeds writes a line on stderr: no migration log, no warning."""
    commands = [
        (["user", "add", "alice", "--admin"], PASSWORD + "\n"),
        (["user", "list"], ""),
        (["user", "show", "alice"], ""),
        (["2fa", "status", "alice"], ""),
        (["audit"], ""),
        (["token", "list"], ""),
        (["db", "current"], ""),
        (["db", "upgrade"], ""),
        (["keys", "rotate"], ""),
    ]
    for argv, stdin in commands:
        result = _otpgate(env, *argv, stdin=stdin)
        assert (result.returncode, result.stderr) == (0, ""), argv


@pytest.mark.parametrize(
    "argv", [["user", "list"], ["audit"], ["code", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"]]
)
def test_a_reader_gone_early_ends_the_command_quietly(env: dict[str, str], argv: list[str]) -> None:
    """stdout is a pipe whose reader has already gone (``| head -1`` once it has its line):
    exit 141 as for SIGPIPE, and nothing on stderr (no traceback, no "Exception ignored")."""
    added = _otpgate(env, "user", "add", "alice", "--admin", stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "otpgate", *argv], stdout=write_end, stderr=subprocess.PIPE,
            text=True, env=env, timeout=TIMEOUT, check=False,
        )
    finally:
        os.close(write_end)
    assert (result.returncode, result.stderr) == (141, "")


def test_head_in_a_shell_pipeline(env: dict[str, str]) -> None:
    """``otpgate user list | head -1`` prints the header line and nothing else."""
    for name in ("alice", "bob"):
        assert _otpgate(env, "user", "add", name, stdin=PASSWORD + "\n").returncode == 0
    shell = f"{sys.executable} -m otpgate user list | head -1"
    result = subprocess.run(["sh", "-c", shell], capture_output=True, text=True, env=env,
                            timeout=TIMEOUT, check=False)
    assert result.returncode == 0
    assert result.stdout.startswith("USERNAME") and result.stdout.count("\n") == 1
    assert result.stderr == ""


@contextmanager
def _servers(count: int, env: dict[str, str], *args: str) -> Iterator[list[ServeProcess]]:
    """``count`` servers started at the same moment on the same database, all listening."""
    with ExitStack() as stack:
        servers = [ServeProcess(env, *args) for _ in range(count)]
        for server in servers:
            stack.callback(server.stop)
        for server in servers:
            server.wait_listening(TIMEOUT)
        yield servers


def _alembic_lines(server: ServeProcess) -> list[str]:
    return [line for line in server.err if "alembic" in line]


def test_serve_logs_migrations_only_when_it_migrates(env: dict[str, str]) -> None:
    """The first start on an empty home logs each migration step; the next start, on a
    current schema, logs no line of Alembic at all."""
    with _servers(1, env) as (first,):
        pass
    steps = _alembic_lines(first)
    assert steps and all("Running upgrade" in line for line in steps), first.err
    with _servers(1, env) as (second,):
        pass
    assert _alembic_lines(second) == [], second.err


def _setup(base_link: str, username: str) -> int:
    """Fill in the setup form of a printed link; the HTTP status of the answer."""
    with httpx2.Client(timeout=10) as client:
        form = client.get(base_link)
        assert form.status_code == 200
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert csrf is not None
        token = base_link.split("token=", 1)[1]
        answer = client.post(
            base_link.split("?", 1)[0],
            data={"csrf_token": csrf[1], "token": token, "username": username,
                  "password": PASSWORD, "password2": PASSWORD},
        )
        return answer.status_code


def _valid_token_hashes(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with transaction(make_session_factory(engine)) as session:
            keys = repo.settings_like(session, SETUP_TOKEN_PREFIX)
    finally:
        engine.dispose()
    return {key.removeprefix(SETUP_TOKEN_PREFIX) for key in keys}


def _race(env: dict[str, str], url: str, *args: str) -> None:
    with _servers(2, env, *args) as servers:
        links = []
        for server in servers:
            found = LINK.findall("".join(server.out))
            assert len(found) == 1, server.out
            links.append(found[0])
        # Both tokens are valid; the second printed is used, and once it has created the
        # admin the first one ends (the setup page is gone).
        tokens = [link.split("token=", 1)[1] for link in links]
        assert _valid_token_hashes(url) == {hash_token(t) for t in tokens}
        assert _setup(links[1], "root") == 303
        assert httpx2.get(links[0], timeout=10).status_code == 404
        assert _valid_token_hashes(url) == set()
        listing = _otpgate(env, "user", "list")
        assert [line.split()[0] for line in listing.stdout.splitlines()[1:]] == ["root"]


def test_two_servers_on_one_empty_sqlite_home_print_links_that_work(
    env: dict[str, str],
) -> None:
    """Two ``otpgate serve`` started together on one empty home both print a working link."""
    _race(env, f"sqlite:///{env['OTPGATE_HOME']}/otpgate.db")


@pytest.fixture
def empty_pg_url(pg_server_url: str) -> Iterator[str]:
    """A PostgreSQL database of its own, without any schema (pg_server_url: a server runs)."""
    with new_postgres_database(PG_ADMIN_URL, "otpgate_race") as url:
        yield url


def test_two_servers_on_one_empty_postgresql_print_links_that_work(
    tmp_path: Path, empty_pg_url: str
) -> None:
    """The same with PostgreSQL (``--migrate``), as two hosts of one deployment would."""
    keys = "k1:" + "A" * 43
    env = otpgate_env(tmp_path / "home", OTPGATE_DATABASE_URL=empty_pg_url,
                      OTPGATE_SECRET_KEYS=keys)
    _race(env, empty_pg_url, "--migrate")
