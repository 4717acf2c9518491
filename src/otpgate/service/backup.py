"""Backup and restore of the whole database, with the checks that make a restore safe.

A backup holds no key: OTP secrets stay sealed, so a stolen backup reveals none. The
other side of that is that a backup is only useful with the keys that sealed it. A
restore therefore first opens every secret of the backup with the configured keys, and
refuses — before touching the database — if any does not open, naming the key ids it
needs. It also refuses to replace a database that holds accounts or audit rows unless
told to (``force``), and a backup written by a newer otpgate. After restoring it brings
the schema to this version's newest revision and records ``database.restored``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from otpgate.security.errors import DecryptionFailed
from otpgate.service._tx import unit_of_work
from otpgate.service.audit import AuditKind, record
from otpgate.service.errors import Conflict, KeyUnavailable
from otpgate.service.verification import secret_context
from otpgate.store import backup as store_backup
from otpgate.store.errors import SchemaMismatch

if TYPE_CHECKING:
    from otpgate.service.context import Context, Origin

__all__ = ["BackupReport", "RestoreReport", "backup_database", "restore_database"]


@dataclass(frozen=True)
class BackupReport:
    kind: str
    path: Path
    size: int


@dataclass(frozen=True)
class RestoreReport:
    kind: str
    secrets: int
    revision: str | None


def _engine(ctx: Context) -> Engine:
    engine = ctx.session_factory.kw.get("bind")
    if not isinstance(engine, Engine):
        raise TypeError("the context's session factory is not bound to an engine")
    return engine


def backup_database(ctx: Context, origin: Origin, target: Path) -> BackupReport:
    """Write a consistent copy of the database to the new file ``target`` (0600)."""
    with unit_of_work(ctx) as session:
        # In the backup itself: a restored database says which backup it came from.
        record(session, ctx, origin, AuditKind.DATABASE_BACKED_UP, detail={"file": target.name})
    kind = store_backup.write_backup(_engine(ctx), target)
    return BackupReport(kind, target, target.stat().st_size)


def _check_keys(ctx: Context, contents: store_backup.BackupContents) -> None:
    missing: Counter[str] = Counter()
    for secret in contents.secrets:
        try:
            ctx.keyring.open(secret.key_id, secret.sealed, context=secret_context(secret.user_id))
        except DecryptionFailed:
            missing[secret.key_id] += 1
    if missing:
        total = len(contents.secrets)
        ids = ", ".join(sorted(missing))
        raise KeyUnavailable(
            f"The configured keys cannot open {sum(missing.values())} of the {total} "
            f"authenticator secrets in this backup (sealed under key id {ids}): configure "
            "the keys of the installation that wrote it; nothing was restored."
        )


def _check_revision(revision: str | None) -> None:
    from otpgate.store.schema import known_revisions

    if revision is not None and revision not in known_revisions():
        raise SchemaMismatch(
            f"The backup's schema revision {revision} is unknown to this version of "
            "otpgate (written by a newer one?): restore it with that version."
        )


def restore_database(
    ctx: Context, origin: Origin, source: Path, *, force: bool = False
) -> RestoreReport:
    """Replace the database with the backup ``source`` after checking it (module docstring)."""
    from otpgate.store.schema import upgrade

    contents = store_backup.backup_contents(source)
    _check_revision(contents.revision)
    engine = _engine(ctx)
    store_backup.check_target(engine, contents.kind)
    _check_keys(ctx, contents)
    if not force and store_backup.holds_data(engine):
        raise Conflict(
            "The configured database already holds accounts or audit rows: "
            "use --force to replace them with the backup (stop otpgate first)."
        )
    store_backup.restore_database(engine, source)
    upgrade(engine)
    with unit_of_work(ctx) as session:
        record(session, ctx, origin, AuditKind.DATABASE_RESTORED, detail={
            "file": source.name, "revision": contents.revision, "forced": force,
        })
    return RestoreReport(contents.kind, len(contents.secrets), contents.revision)
