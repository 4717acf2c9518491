"""Database helpers shared by the test folders: throw-away PostgreSQL databases, dumps."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.engine import URL, make_url

from otpgate.store.models import Base

Dump = dict[str, list[tuple[Any, ...]]]


@contextmanager
def new_postgres_database(admin_url: str | URL, prefix: str) -> Iterator[str]:
    """Create an empty database through ``admin_url``; its URL; dropped afterwards."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def dump_tables(engine: Engine) -> Dump:
    """Every row of every table, in primary-key order: equal dumps mean nothing changed."""
    result: Dump = {}
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            rows = conn.execute(select(table).order_by(*table.primary_key.columns))
            result[table.name] = [tuple(row) for row in rows]
    return result
