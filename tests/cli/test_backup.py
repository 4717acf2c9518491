"""``otpgate db backup`` / ``db restore`` on real SQLite files and PostgreSQL databases."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import create_engine, func, select

from db_support import dump_tables
from otpgate.config import Settings
from otpgate.service import login, users
from otpgate.service.clock import FixedClock
from otpgate.service.context import Context, build_context
from otpgate.service.errors import CodeRejected, RejectReason
from otpgate.store.models import AuditEvent, OtpCredential, User

from .conftest import (
    KEY_1,
    KEY_2,
    OPERATOR_AS_USER,
    PASSWORD,
    T0,
    Run,
    enrol_totp,
    key_spec,
    one_line,
    table_names,
)

LOGINS_PER_THREAD = 150
THREADS = 3


def _login_loop(ctx: Context, user_id: int, secret: str, stop: threading.Event) -> None:
    """Log in with a new code every 30 s of the context's own clock, until told to stop."""
    clock = ctx.clock
    assert isinstance(clock, FixedClock)
    totp = pyotp.TOTP(secret)
    for _ in range(LOGINS_PER_THREAD):
        if stop.is_set():
            return
        clock.advance(30)
        login.verify_code(ctx, OPERATOR_AS_USER, user_id, totp.at(int(clock.now())))


def _consistent_logins(url: str) -> dict[int, tuple[int, int]]:
    """Per user: (accepted logins in the audit, steps advanced by last_step) in a database."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            oks = dict(conn.execute(
                select(AuditEvent.subject_id, func.count())
                .where(AuditEvent.kind == "login.ok").group_by(AuditEvent.subject_id)
            ).all())
            steps = conn.execute(select(OtpCredential.user_id, OtpCredential.last_step)).all()
    finally:
        engine.dispose()
    # Enrolment accepted the step of T0; each login advanced by one 30 s step.
    return {uid: (oks.get(uid, 0), last - T0 // 30) for uid, last in steps}


def test_backup_under_load_restores_into_a_fresh_home_where_the_same_phone_logs_in(
    run: Run, service_ctx: object, cli_env: str, fresh_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A backup taken while logins are written is consistent, has mode 0600, and restored
    into a new database with the same keys lets the same authenticator log in (and still
    refuses the codes it had already accepted)."""
    open_ctx = service_ctx
    assert callable(open_ctx)
    setup = open_ctx()
    accounts = []
    for i in range(THREADS):
        run("user", "add", f"user{i}", stdin=f"{PASSWORD}\n")
        accounts.append((users.find_user(setup, f"user{i}").id, enrol_totp(setup, f"user{i}")))
    stop = threading.Event()
    workers = [
        threading.Thread(target=_login_loop, args=(open_ctx(), uid, secret, stop))
        for uid, secret in accounts
    ]
    for worker in workers:
        worker.start()
    backup = tmp_path / "otpgate.backup"
    try:
        result = run("db", "backup", str(backup))
    finally:
        stop.set()
        for worker in workers:
            worker.join(60)
    assert result.code == 0, result.err
    assert "Backup written" in result.out
    assert stat.S_IMODE(os.stat(backup).st_mode) == 0o600
    source_url = os.environ["OTPGATE_DATABASE_URL"]
    written = _consistent_logins(source_url)
    assert sum(oks for oks, _ in written.values()) > 0, "the load wrote no login"

    monkeypatch.setenv("OTPGATE_HOME", str(tmp_path / "fresh-home"))
    monkeypatch.setenv("OTPGATE_DATABASE_URL", fresh_url)
    restored = run("db", "restore", str(backup))
    assert restored.code == 0, restored.err
    counts = _consistent_logins(fresh_url)
    # Every accepted login has both its audit row and its step, or neither: consistent.
    assert all(oks == steps for oks, steps in counts.values()), counts

    uid, secret = accounts[0]
    last = counts[uid][1] * 30 + T0
    ctx = build_context(_settings(), clock=FixedClock(last))
    try:
        with pytest.raises(CodeRejected) as replay:
            login.verify_code(ctx, OPERATOR_AS_USER, uid, pyotp.TOTP(secret).at(last))
        assert replay.value.reason is RejectReason.REPLAYED
        ctx.clock.set(last + 30)  # type: ignore[attr-defined]
        factor = login.verify_code(ctx, OPERATOR_AS_USER, uid, pyotp.TOTP(secret).at(last + 30))
        assert factor.method == "totp"
    finally:
        ctx.session_factory.kw["bind"].dispose()


def _settings() -> Settings:
    return Settings.from_env()


@pytest.fixture
def backup_with_secret(run: Run, service_ctx: object, tmp_path: Path) -> Path:
    """A backup of a database with one user who has an authenticator (sealed under k1)."""
    assert callable(service_ctx)
    run("user", "add", "alice", stdin=f"{PASSWORD}\n")
    enrol_totp(service_ctx(), "alice")
    path = tmp_path / "alice.backup"
    assert run("db", "backup", str(path)).code == 0
    return path


def test_restore_refuses_a_backup_the_configured_keys_cannot_open(
    run: Run, backup_with_secret: Path, fresh_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Other keys: exit 5, a line naming the key id needed, and the database untouched."""
    monkeypatch.setenv("OTPGATE_HOME", str(tmp_path / "other-home"))
    monkeypatch.setenv("OTPGATE_DATABASE_URL", fresh_url)
    monkeypatch.setenv("OTPGATE_SECRET_KEYS", key_spec(KEY_2))
    result = run("db", "restore", str(backup_with_secret))
    assert result.code == 5
    line = one_line(result.err)
    assert "cannot open 1 of the 1 authenticator secrets" in line
    assert "key id k1" in line and "nothing was restored" in line
    assert "users" not in table_names(fresh_url)
    # With the right key among the configured ones, the same backup restores.
    monkeypatch.setenv("OTPGATE_SECRET_KEYS", key_spec(KEY_2, KEY_1))
    assert run("db", "restore", str(backup_with_secret)).code == 0


def test_restore_refuses_a_database_with_data_unless_forced(
    run: Run, backup_with_secret: Path, service_ctx: object
) -> None:
    """Restoring over accounts: exit 4 and nothing changed; with --force it replaces them."""
    run("user", "add", "bob", stdin=f"{PASSWORD}\n")
    url = os.environ["OTPGATE_DATABASE_URL"]
    engine = create_engine(url)
    try:
        before = dump_tables(engine)
        refused = run("db", "restore", str(backup_with_secret))
        assert refused.code == 4
        assert "--force" in one_line(refused.err)
        assert dump_tables(engine) == before
        forced = run("db", "restore", "--force", str(backup_with_secret))
        assert forced.code == 0, forced.err
        with engine.connect() as conn:
            names = sorted(conn.scalars(select(User.username)))
            kinds = list(conn.scalars(select(AuditEvent.kind).order_by(AuditEvent.id)))
    finally:
        engine.dispose()
    assert names == ["alice"]
    assert kinds[-1] == "database.restored"


def test_backup_refuses_to_overwrite_and_restore_refuses_a_foreign_file(
    run: Run, tmp_path: Path
) -> None:
    """An existing target or a file that is no backup: a one-line error, nothing written."""
    existing = tmp_path / "existing"
    existing.write_bytes(b"keep me")
    result = run("db", "backup", str(existing))
    assert result.code == 5
    assert "already exists" in one_line(result.err)
    assert existing.read_bytes() == b"keep me"
    result = run("db", "restore", str(existing))
    assert result.code == 5
    assert "is not an otpgate backup" in one_line(result.err)
    missing = run("db", "restore", str(tmp_path / "nope"))
    assert missing.code == 5
    assert "cannot read" in one_line(missing.err)


def test_restore_refuses_a_backup_of_the_other_backend(
    run: Run, backup_with_secret: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    pg_server_url: str,
) -> None:
    """A SQLite backup does not go into PostgreSQL, nor a dump into SQLite: one line."""
    sqlite_backup = os.environ["OTPGATE_DATABASE_URL"].startswith("sqlite")
    other = pg_server_url if sqlite_backup else f"sqlite:///{tmp_path / 'other.db'}"
    monkeypatch.setenv("OTPGATE_DATABASE_URL", other)
    result = run("db", "restore", "--force", str(backup_with_secret))
    assert result.code == 5
    assert "restores into" in one_line(result.err)


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_postgres_backup_without_pg_dump_says_what_to_install(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No pg_dump on PATH: exit 5, the package to install, and no file left behind."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    target = tmp_path / "pg.backup"
    result = run("db", "backup", str(target))
    assert result.code == 5
    assert "pg_dump not found" in one_line(result.err)
    assert "postgresql-client" in result.err
    assert not target.exists()
    assert list(tmp_path.glob(".pg.backup*")) == []
