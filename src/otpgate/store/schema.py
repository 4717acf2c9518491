"""Create and upgrade the database schema with the Alembic migrations shipped in the package.

No ``alembic.ini`` is needed: the configuration is built here, pointing at the
``migrations`` folder next to this module.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Engine, text

from otpgate.store.db import translate_errors
from otpgate.store.errors import SchemaMismatch

__all__ = [
    "MIGRATIONS_DIR",
    "alembic_config",
    "current_revision",
    "head_revision",
    "known_revisions",
    "upgrade",
]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Any fixed number: PostgreSQL advisory lock key that serialises concurrent upgrades.
_UPGRADE_LOCK_KEY = 0x0746_7067_6174


def alembic_config(engine: Engine | None = None) -> Config:
    """An Alembic configuration for the package's migrations (for tools and tests)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        # '%' must be doubled for the ini-style interpolation of Config.
        url = engine.url.render_as_string(hide_password=False).replace("%", "%%")
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest schema; does nothing if it is already there.

    Safe when several processes start at once: on PostgreSQL an advisory lock makes
    them take turns, on SQLite the write lock taken at ``BEGIN IMMEDIATE`` does. All
    migrations run in one transaction, so a failed upgrade leaves the schema unchanged.
    Raises :class:`SchemaMismatch` if the database is at a revision this version does not
    know (written by a newer otpgate).
    """
    cfg = alembic_config()
    try:
        with translate_errors(), engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _UPGRADE_LOCK_KEY})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except CommandError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unknown revision"
        raise SchemaMismatch(f"cannot upgrade the database schema: {first}") from None


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for a database never migrated."""
    with translate_errors(), engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    """The newest revision shipped with this version of otpgate."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def known_revisions() -> frozenset[str]:
    """Every revision shipped with this version of otpgate (older ones upgrade)."""
    script = ScriptDirectory.from_config(alembic_config())
    return frozenset(rev.revision for rev in script.walk_revisions())
