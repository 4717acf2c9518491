"""``otpgate db backup|restore|purge``: day-two operations on the whole database."""

from __future__ import annotations

import argparse
from pathlib import Path

from otpgate.cli._context import operator_context, operator_origin, read_settings

__all__ = ["register_operations"]


def register_operations(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """Add ``backup``, ``restore`` and ``purge`` to ``otpgate db``."""
    backup = commands.add_parser(
        "backup",
        help="write a consistent copy of the database to a new file (0600), while it runs",
        description="SQLite: an online copy (logins go on meanwhile). PostgreSQL: pg_dump "
        "in its custom format (needs the PostgreSQL client programs). The keys are not in "
        "the backup: keep them (the key file or OTPGATE_SECRET_KEYS) somewhere else.",
    )
    backup.add_argument("file", type=Path, help="the new backup file (never overwritten)")
    backup.set_defaults(handler=_backup)
    restore = commands.add_parser(
        "restore",
        help="replace the database with a backup (stop otpgate first)",
        description="Refuses a backup whose secrets the configured keys cannot open, and a "
        "database that already holds accounts or audit rows unless --force is given.",
    )
    restore.add_argument("file", type=Path, help="a file written by `otpgate db backup`")
    restore.add_argument("--force", action="store_true",
                         help="replace a database that already holds data")
    restore.set_defaults(handler=_restore)
    purge = commands.add_parser(
        "purge",
        help="delete expired sessions, enrolments, throttles, finished mails (and old audit "
        "rows with OTPGATE_AUDIT_RETENTION_DAYS); `otpgate serve` does this every 10 minutes",
    )
    purge.set_defaults(handler=_purge)


def _backup(args: argparse.Namespace) -> int:
    from otpgate.service.backup import backup_database

    with operator_context() as ctx:
        report = backup_database(ctx, operator_origin(), args.file)
    print(f"Backup written: {report.path} ({report.kind}, {report.size} bytes, mode 0600). "
          "Keep the secret keys apart from it: the backup cannot be used without them.")
    return 0


def _restore(args: argparse.Namespace) -> int:
    from otpgate.service.backup import restore_database
    from otpgate.service.context import build_context

    settings = read_settings()
    if not settings.database_url:
        settings.home.mkdir(parents=True, exist_ok=True)
    # No schema check: the database may be new (restoring is how it gets its schema).
    ctx = build_context(settings)
    try:
        report = restore_database(ctx, operator_origin(), args.file, force=args.force)
    finally:
        ctx.session_factory.kw["bind"].dispose()
    print(f"Database restored from {args.file} ({report.kind} backup at revision "
          f"{report.revision}, {report.secrets} authenticator secrets checked with the "
          "configured keys).")
    return 0


def _purge(args: argparse.Namespace) -> int:
    from dataclasses import fields

    from otpgate.service.retention import purge

    with operator_context() as ctx:
        report = purge(ctx, operator_origin())
    deleted = ", ".join(f"{getattr(report, f.name)} {f.name}" for f in fields(report))
    print(f"Deleted {deleted}.")
    return 0
