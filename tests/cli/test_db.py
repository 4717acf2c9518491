"""``otpgate db upgrade|current``, the schema check of every command, unreachable databases."""

from __future__ import annotations

import io
import os
import socket
import stat
from pathlib import Path

import pytest

from otpgate.cli import main
from otpgate.store.schema import head_revision

from .conftest import PASSWORD, Result, one_line, table_names


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Cheap argon2 and a data directory; no database URL (tests set it)."""
    home = tmp_path / "home"
    monkeypatch.setenv("OTPGATE_HOME", str(home))
    monkeypatch.delenv("OTPGATE_DATABASE_URL", raising=False)
    monkeypatch.delenv("OTPGATE_SECRET_KEYS", raising=False)
    for name, value in (("TIME_COST", "1"), ("MEMORY_KIB", "8"), ("PARALLELISM", "1")):
        monkeypatch.setenv(f"OTPGATE_ARGON2_{name}", value)
    return home


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> Result:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return Result(code, out, err)


def test_upgrade_prints_old_and_new_revision(
    env: Path, fresh_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first upgrade goes from empty to the head; the second has nothing to do."""
    monkeypatch.setenv("OTPGATE_DATABASE_URL", fresh_url)
    head = head_revision()
    before = _run(capsys, "db", "current").out
    assert before == f"(empty) (run `otpgate db upgrade` to reach {head})\n"
    first = _run(capsys, "db", "upgrade")
    assert first.code == 0, first.err
    assert first.out == f"Database upgraded: (empty) → {head_revision()}\n"
    second = _run(capsys, "db", "upgrade")
    assert second.out == f"Database already at revision {head_revision()}; nothing to do.\n"
    assert _run(capsys, "db", "current").out == f"{head_revision()} (up to date)\n"
    assert "users" in table_names(fresh_url)


def test_commands_refuse_a_database_without_schema(
    env: Path, fresh_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """On a configured database that was never upgraded, commands say to upgrade, exit 5."""
    monkeypatch.setenv("OTPGATE_DATABASE_URL", fresh_url)
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    result = _run(capsys, "user", "add", "alice")
    assert result.code == 5
    assert "otpgate db upgrade" in one_line(result.err)
    assert "users" not in table_names(fresh_url)


def test_embedded_sqlite_is_migrated_on_first_use(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With no database URL, `user add --admin` works on a fresh install and keys are private."""
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    result = _run(capsys, "user", "add", "admin", "--admin")
    assert result.code == 0, result.err
    assert (env / "otpgate.db").exists()
    assert stat.S_IMODE(os.stat(env / "secret.keys").st_mode) == 0o600


def closed_port_url() -> str:
    """A PostgreSQL URL on a loopback port where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"postgresql+psycopg://otpgate@127.0.0.1:{port}/otpgate"


@pytest.mark.parametrize(
    "argv", [["db", "upgrade"], ["db", "current"], ["user", "list"], ["audit", "--json"],
             ["keys", "rotate"]]
)
def test_unreachable_database_is_exit_5(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    argv: list[str],
) -> None:
    """A PostgreSQL server that is not there gives exit 5 and one line, and no key is added."""
    monkeypatch.setenv("OTPGATE_DATABASE_URL", closed_port_url())
    result = _run(capsys, *argv)
    assert result.code == 5
    assert "database unavailable" in one_line(result.err)
    if (env / "secret.keys").exists():
        keys = [ln for ln in (env / "secret.keys").read_text().splitlines() if ":" in ln
                and not ln.startswith("#")]
        assert len(keys) == 1


@pytest.mark.parametrize(
    ("variable", "value"),
    [("OTPGATE_DATABASE_URL", "mysql://x@localhost/db"),
     ("OTPGATE_DATABASE_URL", "::not a url::"),
     ("OTPGATE_ARGON2_TIME_COST", "fast"),
     ("OTPGATE_SECRET_KEYS", "k1:tooshort")],
)
def test_bad_configuration_is_exit_5(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    variable: str, value: str,
) -> None:
    """An unusable setting is named in one line, exit 5."""
    monkeypatch.setenv(variable, value)
    result = _run(capsys, "user", "list")
    assert result.code == 5, result
    one_line(result.err)
