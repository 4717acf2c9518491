"""Fixtures of the store tests: a session factory on the migrated test database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from db_support import new_postgres_database
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
    with new_postgres_database(db_url, "otpgate_fresh") as url:
        yield url
