"""Engines, sessions and the transaction helper."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import event, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from otpgate.store.db import (
    connection_transaction,
    make_engine,
    make_session_factory,
    transaction,
)
from otpgate.store.errors import Conflict, DatabaseUnavailable, InvalidDatabaseUrl, StoreError
from otpgate.store.models import User

from ._helpers import NOW, new_user


def test_sqlite_engine_creates_the_directory_and_sets_pragmas(tmp_path: Path) -> None:
    """A SQLite engine makes the missing parent directory and turns on WAL, FKs and waiting."""
    engine = make_engine(f"sqlite:///{tmp_path / 'a' / 'b' / 'otpgate.db'}")
    try:
        with engine.connect() as conn:
            pragmas = [
                conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout")
            ]
        assert pragmas == ["wal", 1, 5000]
        assert (tmp_path / "a" / "b" / "otpgate.db").exists()
    finally:
        engine.dispose()


def test_sqlite_in_memory_engine_works() -> None:
    """An in-memory SQLite URL gives a working engine with foreign keys on."""
    engine = make_engine("sqlite://")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u@127.0.0.1/db",
        "postgres://u@127.0.0.1/db",
        "postgresql+psycopg://u@127.0.0.1/db",
    ],
)
def test_postgres_urls_use_psycopg3_without_pre_ping(url: str) -> None:
    """Every PostgreSQL spelling selects psycopg 3, and a pool that does not ping before
    use (a round trip per transaction; closed connections are found without one)."""
    engine = make_engine(url)
    try:
        assert engine.dialect.driver == "psycopg"
        assert engine.pool._pre_ping is False
    finally:
        engine.dispose()


def test_pooled_connections_closed_by_the_server_are_replaced(pg_server_url: str) -> None:
    """After the server ends every pooled connection (as a restart does), the next
    transactions succeed on new connections, with no ping statement sent."""
    engine = make_engine(pg_server_url, pool_size=2)
    admin = make_engine(pg_server_url)
    try:
        pids = set()
        with engine.connect() as a, engine.connect() as b:
            for conn in (a, b):
                pids.add(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
        with admin.begin() as conn:
            for pid in pids:
                # Waits (up to 5 s) until the backend has exited.
                ended = conn.execute(
                    text("SELECT pg_terminate_backend(:p, 5000)"), {"p": pid}
                ).scalar()
                assert ended
        sent: list[str] = []
        event.listen(engine, "before_cursor_execute", lambda *a: sent.append(a[2]))
        for _ in range(3):
            with connection_transaction(engine) as conn:
                assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() not in pids
        assert sent == ["SELECT pg_backend_pid()"] * 3
    finally:
        engine.dispose()
        admin.dispose()


@pytest.mark.parametrize(
    "url",
    ["", "not a url", "mysql://u@h/db", "postgresql+psycopg2://u@h/db", "sqlite+pysqlcipher:///x"],
)
def test_other_urls_are_refused(url: str) -> None:
    """A malformed URL or an unsupported backend raises InvalidDatabaseUrl (a ValueError)."""
    with pytest.raises(InvalidDatabaseUrl) as info:
        make_engine(url)
    assert isinstance(info.value, ValueError)
    assert "\n" not in str(info.value)


def test_transaction_commits_on_success(factory: sessionmaker[Session]) -> None:
    """Rows written in a transaction that ends normally are stored."""
    with transaction(factory) as s:
        new_user(s)
    with transaction(factory) as s:
        assert s.scalars(select(User.username)).all() == ["alice"]


def test_transaction_rolls_back_on_error(factory: sessionmaker[Session]) -> None:
    """An exception inside the block undoes every write of the transaction and passes through."""
    with pytest.raises(KeyError), transaction(factory) as s:
        new_user(s)
        raise KeyError("boom")
    with transaction(factory) as s:
        assert s.scalars(select(User)).all() == []


def test_objects_stay_readable_after_commit(factory: sessionmaker[Session]) -> None:
    """Rows returned inside a transaction can be read after it has committed and closed."""
    with transaction(factory) as s:
        user = new_user(s, "Bob")
    assert (user.id, user.username, user.created_at) == (user.id, "bob", NOW)


def test_integrity_error_becomes_conflict(factory: sessionmaker[Session]) -> None:
    """A duplicate written without the repositories still leaves as a one-line Conflict."""
    row = {"username": "alice", "password_hash": "h", "created_at": NOW}
    row["password_changed_at"] = NOW
    row |= {"display_name": "", "email": "", "is_admin": False, "is_active": True}
    with transaction(factory) as s:
        s.execute(insert(User).values(**row))
    with pytest.raises(Conflict) as info, transaction(factory) as s:
        s.execute(insert(User).values(**row))
    assert "\n" not in str(info.value)
    assert info.value.__cause__ is None
    with transaction(factory) as s:
        assert len(s.scalars(select(User)).all()) == 1


def test_unreachable_postgres_is_database_unavailable() -> None:
    """A PostgreSQL server that does not answer gives DatabaseUnavailable, not a driver error."""
    engine = make_engine("postgresql+psycopg://postgres@127.0.0.1:1/none")
    try:
        with (
            pytest.raises(DatabaseUnavailable) as info,
            transaction(make_session_factory(engine)) as s,
        ):
            s.execute(text("SELECT 1"))
        assert str(info.value).startswith("database unavailable: ")
        assert "\n" not in str(info.value)
    finally:
        engine.dispose()


def test_unopenable_sqlite_file_is_database_unavailable(tmp_path: Path) -> None:
    """A SQLite path that is a directory gives DatabaseUnavailable."""
    engine = make_engine(f"sqlite:///{tmp_path}")
    try:
        with pytest.raises(DatabaseUnavailable), transaction(make_session_factory(engine)) as s:
            s.execute(text("SELECT 1"))
    finally:
        engine.dispose()


def test_uncreatable_sqlite_directory_is_database_unavailable(tmp_path: Path) -> None:
    """A SQLite path under a regular file gives DatabaseUnavailable at engine creation."""
    (tmp_path / "file").write_text("x")
    with pytest.raises(DatabaseUnavailable):
        make_engine(f"sqlite:///{tmp_path / 'file' / 'sub' / 'otpgate.db'}")


def test_store_errors_share_one_root() -> None:
    """Every store error is a StoreError, so adapters can catch the layer at once."""
    for cls in (Conflict, DatabaseUnavailable, InvalidDatabaseUrl):
        assert issubclass(cls, StoreError)
