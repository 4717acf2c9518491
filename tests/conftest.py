"""Shared fixtures: real databases (SQLite file and PostgreSQL) and external tools.

Outside CI a missing PostgreSQL server or Debian tool skips the tests that need it, with
the reason; under ``CI=true`` it fails them instead, so nothing is silently skipped.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, create_engine, text

from db_support import Dump, dump_tables, new_postgres_database

IN_CI = os.environ.get("CI", "").lower() == "true"
PG_ADMIN_URL = os.environ.get(
    "OTPGATE_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def unavailable(reason: str) -> None:
    """Skip the test because something it needs is missing, or fail under CI."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: nothing may skip)")
    pytest.skip(reason)


def need_tool(name: str) -> str:
    """The absolute path of an external program the test needs."""
    path = shutil.which(name)
    if path is None:
        unavailable(f"{name} is not installed (make test installs it when run as root)")
        raise AssertionError("unreachable")
    return path


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, dropped at the end."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to connect means "no server"
        admin.dispose()
        unavailable(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(exc).__name__}")
    admin.dispose()
    with new_postgres_database(PG_ADMIN_URL, "otpgate_test") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database URL with an empty schema-less database, on each backend in turn."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'otpgate.db'}"
    url: str = request.getfixturevalue("pg_server_url")
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on a migrated database that holds no rows; emptied again afterwards."""
    from otpgate.store.db import make_engine
    from otpgate.store.schema import upgrade

    eng = make_engine(db_url)
    upgrade(eng)
    _empty_all_tables(eng)
    try:
        yield eng
    finally:
        _empty_all_tables(eng)
        eng.dispose()


def _empty_all_tables(eng: Engine) -> None:
    from otpgate.store.models import Base

    names = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with eng.begin() as conn:
        if eng.dialect.name == "postgresql":
            quoted = ", ".join(f'"{n}"' for n in names)
            conn.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
        else:
            for n in names:
                conn.execute(text(f'DELETE FROM "{n}"'))


@pytest.fixture
def dump(engine: Engine) -> Callable[[], Dump]:
    """A function that dumps every table of the test database."""
    return lambda: dump_tables(engine)
