"""Fixtures of the CLI tests: ``otpgate.cli.main`` run in-process against a real database.

Settings reach the CLI the way they reach it in production, through ``OTPGATE_*``
environment variables (set with ``monkeypatch``), with the cheap argon2 profile.
"""

from __future__ import annotations

import base64
import io
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, inspect
from sqlalchemy.engine import make_url

from db_support import new_postgres_database
from otpgate.cli import main
from otpgate.config import Settings
from otpgate.service.clock import FixedClock
from otpgate.service.context import Context, Origin, build_context

PASSWORD = "correct horse battery"
KEY_1 = ("k1", bytes(range(32)))
KEY_2 = ("k2", bytes(range(100, 132)))
T0 = 1_700_000_000


def key_spec(*keys: tuple[str, bytes]) -> str:
    """``OTPGATE_SECRET_KEYS`` text for these keys (first = primary)."""
    return ",".join(f"{kid}:{base64.urlsafe_b64encode(k).decode().rstrip('=')}" for kid, k in keys)


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


Run = Callable[..., Result]


@pytest.fixture
def cli_env(engine: Engine, db_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """Environment for the CLI on the (migrated, empty) test database; returns OTPGATE_HOME."""
    home = str(tmp_path / "home")
    monkeypatch.setenv("OTPGATE_HOME", home)
    monkeypatch.setenv("OTPGATE_DATABASE_URL", db_url)
    monkeypatch.setenv("OTPGATE_SECRET_KEYS", key_spec(KEY_1))
    monkeypatch.setenv("OTPGATE_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("OTPGATE_ARGON2_MEMORY_KIB", "8")
    monkeypatch.setenv("OTPGATE_ARGON2_PARALLELISM", "1")
    return home


@pytest.fixture
def run(
    cli_env: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Run:
    """Run ``otpgate ARGS…`` in-process with ``stdin`` text (not a terminal)."""

    def _run(*argv: str, stdin: str = "") -> Result:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        capsys.readouterr()
        code = main(list(argv))
        out, err = capsys.readouterr()
        return Result(code, out, err)

    assert _run("db", "upgrade").code == 0
    return _run


@pytest.fixture
def fresh_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all (a new SQLite file, or a new PostgreSQL database)."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    admin_url = make_url(db_url).set(database="postgres")
    with new_postgres_database(admin_url, "otpgate_cli") as url:
        yield url


def table_names(url: str) -> list[str]:
    """The tables of the database at ``url``, sorted."""
    engine = create_engine(url)
    try:
        return sorted(inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.fixture
def service_ctx(cli_env: str) -> Iterator[Callable[[], Context]]:
    """Contexts built from the same environment as the CLI, at a fixed time."""
    opened: list[Context] = []

    def _open() -> Context:
        ctx = build_context(Settings.from_env(), clock=FixedClock(T0))
        opened.append(ctx)
        return ctx

    yield _open
    for ctx in opened:
        ctx.session_factory.kw["bind"].dispose()


OPERATOR = Origin(source="cli", user_agent="cli:tester")


def one_line(err: str) -> str:
    """The single line of an error output, asserting there is exactly one."""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("otpgate: error: "), err
    return lines[0]


def password_ok(ctx: Context, username: str, password: str) -> bool:
    """Whether the stored hash of the user matches ``password`` (read straight from the store)."""
    from otpgate.security.errors import PasswordMismatch
    from otpgate.store import repositories as repo
    from otpgate.store.db import transaction

    with transaction(ctx.session_factory) as session:
        user = repo.find_user(session, username)
        assert user is not None
        stored = user.password_hash
    try:
        return ctx.hasher.verify(stored, password)
    except PasswordMismatch:
        return False


def enrol_totp(ctx: Context, username: str, name: str = "My phone") -> str:
    """Give the user a confirmed TOTP authenticator (at the fixed time T0); its base32 secret.

    The confirming code is computed with pyotp, not with our own OTP code.
    """
    import pyotp

    from otpgate.service import enrolment, users

    user = users.find_user(ctx, username)
    pending = enrolment.begin_enrolment(ctx, OPERATOR_AS_USER, user.id, step_up_at=ctx.now_dt())
    code = pyotp.TOTP(pending.secret_b32).at(T0)
    enrolment.confirm_enrolment(ctx, OPERATOR_AS_USER, user.id, pending.credential_id, code, name)
    return pending.secret_b32


# Enrolment is something users do from the portal.
OPERATOR_AS_USER = Origin(source="web", client_addr="127.0.0.1", user_agent="pytest")
