"""Persistence: SQLAlchemy 2 models, repositories and Alembic migrations.

Import the submodules (``db``, ``schema``, ``repositories``, ``models``, ``errors``);
this package module stays empty so that loading ``otpgate.store.errors`` does not load
SQLAlchemy.
"""

from __future__ import annotations

import logging


class _MigrationStepsOnly(logging.Filter):
    """Alembic logs at INFO each time it inspects a database ("Context impl …"); of its
    lines only a real migration's ("Running upgrade 0003 -> 0004, …") tell something."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage().startswith(("Running upgrade", "Running downgrade"))


# Set before anything imports alembic, which logs a line per plugin it loads.
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
logging.getLogger("alembic.runtime.migration").addFilter(_MigrationStepsOnly())
