"""Alembic migrations: they build exactly the tables of models.py, on both backends."""

from __future__ import annotations

import multiprocessing

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, MetaData, Table, inspect, text

from otpgate.store.db import make_engine
from otpgate.store.errors import DatabaseUnavailable, SchemaMismatch
from otpgate.store.models import Base
from otpgate.store.schema import (
    MIGRATIONS_DIR,
    alembic_config,
    current_revision,
    head_revision,
    upgrade,
)

from ._workers import upgrade_url


def _diff(engine: Engine, metadata: MetaData) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    """Autogenerate finds no difference between the migrated database and models.py."""
    assert _diff(engine, Base.metadata) == []


def test_schema_comparison_sees_a_difference(engine: Engine) -> None:
    """The comparison does see a table, an index and an ON DELETE rule that differ."""
    changed = MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(changed)
    Table("extra", changed)
    changed.tables["audit_events"].indexes.pop()
    fk = next(iter(changed.tables["recovery_codes"].foreign_keys))
    fk.ondelete = None
    assert fk.constraint is not None
    fk.constraint.ondelete = None
    kinds = {d[0] for d in _diff(engine, changed) if isinstance(d, tuple)}
    assert kinds == {"add_table", "remove_index", "remove_fk", "add_fk"}


def test_upgrade_of_a_fresh_database_reaches_head_and_can_run_again(fresh_db_url: str) -> None:
    """A new database is at no revision, then at head; a second upgrade changes nothing."""
    engine = make_engine(fresh_db_url)
    try:
        assert current_revision(engine) is None
        upgrade(engine)
        assert current_revision(engine) == head_revision() == "0007"
        upgrade(engine)
        assert current_revision(engine) == "0007"
        assert set(inspect(engine).get_table_names()) == set(Base.metadata.tables) | {
            "alembic_version"
        }
    finally:
        engine.dispose()


def test_downgrade_to_base_removes_every_table(fresh_db_url: str) -> None:
    """The initial migration's downgrade drops what its upgrade created, and upgrade works again."""
    engine = make_engine(fresh_db_url)
    try:
        upgrade(engine)
        cfg = alembic_config()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade(engine)
        assert _diff(engine, Base.metadata) == []
    finally:
        engine.dispose()


def test_two_processes_upgrading_at_once_both_succeed(fresh_db_url: str) -> None:
    """Two processes that start on a fresh database at the same moment both end at head."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        revisions = pool.map_async(upgrade_url, [fresh_db_url, fresh_db_url]).get(timeout=120)
    assert revisions == ["0007", "0007"]


def test_timestamps_are_stored_with_time_zone_on_postgres(engine: Engine) -> None:
    """On PostgreSQL every datetime column is ``timestamp with time zone``."""
    if engine.dialect.name != "postgresql":
        assert engine.dialect.name == "sqlite"
        return
    query = text(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'public' AND data_type LIKE 'timestamp%'"
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    assert len(rows) == 34
    assert {r.data_type for r in rows} == {"timestamp with time zone"}


def test_user_foreign_keys_cascade_on_delete(engine: Engine) -> None:
    """Every foreign key to users is declared ON DELETE CASCADE in the database."""
    inspector = inspect(engine)
    fks = [
        (table, fk)
        for table in inspector.get_table_names()
        for fk in inspector.get_foreign_keys(table)
    ]
    assert {t for t, _ in fks} == {
        "otp_credentials",
        "recovery_codes",
        "trusted_devices",
        "sessions",
        "user_groups",
        "bypass_codes",
        "webauthn_users",
        "webauthn_credentials",
    }
    for _, fk in fks:
        assert fk["referred_table"] == "users"
        assert (fk.get("options") or {}).get("ondelete") == "CASCADE"


def test_migrations_ship_inside_the_package() -> None:
    """The Alembic environment and versions sit in the package folder that is shipped."""
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert (MIGRATIONS_DIR / "script.py.mako").is_file()
    assert (MIGRATIONS_DIR / "versions" / "0001_initial.py").is_file()
    assert MIGRATIONS_DIR.parent.name == "store"


def test_unknown_revision_is_a_schema_mismatch(fresh_db_url: str) -> None:
    """A database stamped by a newer otpgate raises SchemaMismatch and is left as it was."""
    engine = make_engine(fresh_db_url)
    try:
        upgrade(engine)
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = 'f00d'"))
        with pytest.raises(SchemaMismatch) as info:
            upgrade(engine)
        assert "\n" not in str(info.value)
        assert current_revision(engine) == "f00d"
    finally:
        engine.dispose()


def test_current_revision_of_unreachable_database() -> None:
    """Asking an unreachable server for its revision raises DatabaseUnavailable."""
    engine = make_engine("postgresql+psycopg://postgres@127.0.0.1:1/none")
    try:
        with pytest.raises(DatabaseUnavailable):
            current_revision(engine)
    finally:
        engine.dispose()


def test_0005_keeps_recovery_codes_stored_before_it(fresh_db_url: str) -> None:
    """Rows of recovery_codes written at 0004 survive 0005 with a NULL key id (their
    unkeyed hash still finds them), and 0005's downgrade drops only the column."""
    engine = make_engine(fresh_db_url)
    cfg = alembic_config()
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0004")
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO users (id, username, display_name, email, password_hash, is_admin,"
                " is_active, created_at, password_changed_at)"
                " VALUES (1, 'alice', '', '', 'x', false, true, :t, :t)"
            ), {"t": "2025-01-01 00:00:00+00:00"})
            conn.execute(text(
                "INSERT INTO recovery_codes (user_id, code_hash, created_at)"
                " VALUES (1, 'legacy-hash', :t)"
            ), {"t": "2025-01-01 00:00:00+00:00"})
        upgrade(engine)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT code_hash, key_id FROM recovery_codes")).all()
        assert [tuple(r) for r in rows] == [("legacy-hash", None)]
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0004")
        columns = {c["name"] for c in inspect(engine).get_columns("recovery_codes")}
        assert "key_id" not in columns and "code_hash" in columns
    finally:
        engine.dispose()


def test_audit_rows_carry_only_the_indexes_that_serve_queries(engine: Engine) -> None:
    """Every code check inserts an audit row: besides its key, only the ``at`` index
    (newest first) and ``(subject_id, at)`` (a user's events) are kept up to date."""
    names = {ix["name"] for ix in inspect(engine).get_indexes("audit_events")}
    assert names == {"ix_audit_events_at", "ix_audit_events_subject_at"}
