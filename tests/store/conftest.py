"""Fixtures of the store tests: a session factory on the migrated test database."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from otpgate.store.db import make_session_factory


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory on the migrated, empty database of the ``engine`` fixture."""
    return make_session_factory(engine)


@pytest.fixture
def fresh_db_url(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A URL of a database nobody has migrated yet, on each backend in turn."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path_factory.mktemp('fresh') / 'sub' / 'fresh.db'}"
        return
    name = f"otpgate_fresh_{secrets.token_hex(6)}"
    admin = create_engine(db_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(db_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
