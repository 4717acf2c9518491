"""``otpgate db upgrade|current``: the schema; backup, restore and purge in :mod:`._db_ops`."""

from __future__ import annotations

import argparse

from otpgate.cli._context import read_settings
from otpgate.cli._db_ops import register_operations

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``otpgate db …``."""
    db = subparsers.add_parser("db", help="database schema, backup, restore, purge")
    commands = db.add_subparsers(dest="db_command", metavar="COMMAND", required=True)
    upgrade = commands.add_parser(
        "upgrade", help="apply the migrations this version ships (safe to run again)"
    )
    upgrade.set_defaults(handler=_upgrade)
    current = commands.add_parser("current", help="print the schema revision")
    current.set_defaults(handler=_current)
    register_operations(commands)


def _upgrade(args: argparse.Namespace) -> int:
    from otpgate.service.context import prepare_home
    from otpgate.store.db import make_engine
    from otpgate.store.schema import current_revision, head_revision, upgrade

    settings = read_settings()
    prepare_home(settings)
    engine = make_engine(settings.effective_database_url)
    try:
        before = current_revision(engine)
        if before == head_revision():
            print(f"Database already at revision {before}; nothing to do.")
            return 0
        upgrade(engine)
        after = current_revision(engine)
    finally:
        engine.dispose()
    print(f"Database upgraded: {before or '(empty)'} → {after}")
    return 0


def _current(args: argparse.Namespace) -> int:
    from otpgate.service.context import prepare_home
    from otpgate.store.db import make_engine
    from otpgate.store.schema import current_revision, head_revision

    settings = read_settings()
    prepare_home(settings)
    engine = make_engine(settings.effective_database_url)
    try:
        current = current_revision(engine)
    finally:
        engine.dispose()
    head = head_revision()
    state = "up to date" if current == head else f"run `otpgate db upgrade` to reach {head}"
    print(f"{current or '(empty)'} ({state})")
    return 0
