"""The service context of one command: settings from the environment, the local operator.

The command line is an operator channel: whoever can read the configuration and reach the
database acts with an administrator's authority. Use cases get ``actor_id=None`` and an
:class:`~otpgate.service.context.Origin` with source ``"cli"``; the operating-system user
is named in the origin's user agent (``"cli:alice"``) so audit rows say who ran it.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from otpgate.cli._errors import EXIT_CONFIG, CliError
from otpgate.config import Settings

if TYPE_CHECKING:
    from otpgate.service.context import Context, Origin

__all__ = ["ACTOR", "operator_context", "operator_origin", "read_settings"]

# The CLI acts for the local operator, not for a user account (see module docstring).
ACTOR: int | None = None


def read_settings() -> Settings:
    """Settings from ``OTPGATE_*``; an unusable value is a ConfigError (exit 5)."""
    return Settings.from_env()


def operator_origin() -> Origin:
    """The origin of every audit row the command line causes."""
    from otpgate.service.context import Origin

    return Origin(source="cli", user_agent=f"cli:{_os_user()}")


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER (some containers)
        return "unknown"


@contextmanager
def operator_context(settings: Settings | None = None) -> Iterator[Context]:
    """A service context on a database whose schema is current; the engine is closed after.

    The embedded SQLite database (no ``OTPGATE_DATABASE_URL``) is migrated on the spot, as
    ``otpgate serve`` does, so ``otpgate user add --admin`` works on a fresh install. A
    configured database must be upgraded explicitly (``otpgate db upgrade``): several
    hosts may share it, and its owner decides when its schema changes.
    """
    from otpgate.service.context import build_context

    settings = settings if settings is not None else read_settings()
    ctx = build_context(settings, migrate=not settings.database_url)
    engine = ctx.session_factory.kw["bind"]
    try:
        _check_schema(engine)
        yield ctx
    finally:
        engine.dispose()


def _check_schema(engine: object) -> None:
    from sqlalchemy import Engine

    from otpgate.store.schema import current_revision, head_revision

    assert isinstance(engine, Engine)
    current, head = current_revision(engine), head_revision()
    if current == head:
        return
    if current is None:
        raise CliError("the database has no otpgate schema yet: run `otpgate db upgrade`",
                       EXIT_CONFIG)
    raise CliError(
        f"the database schema is at revision {current}, this otpgate needs {head}: "
        "run `otpgate db upgrade`",
        EXIT_CONFIG,
    )
