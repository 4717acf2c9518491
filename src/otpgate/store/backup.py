"""Backups of the whole database, and restoring them: the mechanics, no rules.

SQLite files are copied with SQLite's online backup API: one read transaction copies
every page, so the copy is consistent while other connections go on writing (WAL lets
them). PostgreSQL databases go through ``pg_dump --format=custom`` and ``pg_restore``.
Backup files are created ``0600``: they hold password hashes and sealed secrets.

A backup is recognised by its first bytes (SQLite's header or ``PGDMP``), so restoring
needs no flag saying what it is. :func:`backup_contents` reads the schema revision and
the sealed OTP secrets of a backup without restoring it, so the caller can check that
the configured keys open them first.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from sqlalchemy import Engine, func, select
from sqlalchemy.engine import URL

from otpgate.store.db import translate_errors
from otpgate.store.errors import BackupFailed
from otpgate.store.models import AuditEvent, User

__all__ = [
    "BackupContents",
    "SealedSecret",
    "backup_contents",
    "backup_kind",
    "check_target",
    "holds_data",
    "restore_database",
    "write_backup",
]

BackupKind = Literal["sqlite", "postgresql"]
_SQLITE_MAGIC = b"SQLite format 3\x00"
_PGDUMP_MAGIC = b"PGDMP"
# A restore or a dump of a big database takes a while; a stuck one is still an error.
_PG_TOOL_TIMEOUT_S = 3600


@dataclass(frozen=True)
class SealedSecret:
    """One OTP secret as stored: who owns it, which key sealed it, the ciphertext."""

    credential_id: int
    user_id: int
    key_id: str
    sealed: bytes


@dataclass(frozen=True)
class BackupContents:
    kind: BackupKind
    revision: str | None
    secrets: list[SealedSecret]


def write_backup(engine: Engine, target: Path) -> BackupKind:
    """Copy the database of ``engine`` to the new file ``target`` (mode 0600).

    The file appears only when complete (written next to it, then renamed); an existing
    ``target`` is never overwritten.
    """
    kind = _engine_kind(engine)
    if target.exists():
        raise BackupFailed(f"{target} already exists: choose a new file name")
    partial = target.with_name(f".{target.name}.partial")
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise BackupFailed(f"cannot create {target}: {exc.strerror or exc}") from None
    try:
        if kind == "sqlite":
            os.close(fd)
            _sqlite_copy(_sqlite_path(engine.url), partial)
        else:
            with os.fdopen(fd, "wb") as out:
                _pg_tool(["pg_dump", "--format=custom", "--no-owner", "--no-privileges"],
                         engine.url, stdout=out)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return kind


def backup_kind(path: Path) -> BackupKind:
    """What kind of backup ``path`` is, from its first bytes."""
    try:
        with path.open("rb") as handle:
            head = handle.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise BackupFailed(f"cannot read {path}: {exc.strerror or exc}") from None
    if head.startswith(_SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(_PGDUMP_MAGIC):
        return "postgresql"
    raise BackupFailed(f"{path} is not an otpgate backup (neither SQLite nor pg_dump custom)")


def backup_contents(path: Path) -> BackupContents:
    """The schema revision and sealed secrets of a backup, read without restoring it."""
    kind = backup_kind(path)
    if kind == "sqlite":
        return _sqlite_contents(path)
    return _pgdump_contents(path)


def holds_data(engine: Engine) -> bool:
    """Whether the database has any account or audit row (a restore would replace them)."""
    with translate_errors(), engine.connect() as conn:
        tables = set(conn.dialect.get_table_names(conn))
        for model in (User, AuditEvent):
            if model.__tablename__ in tables and conn.scalar(
                select(func.count()).select_from(model)
            ):
                return True
    return False


def restore_database(engine: Engine, source: Path) -> None:
    """Replace the whole database of ``engine`` with the backup ``source``.

    SQLite backups restore into SQLite only and dumps into PostgreSQL only. Other
    processes should be stopped: their open connections would see the old data vanish.
    """
    kind = check_target(engine, backup_kind(source))
    engine.dispose()
    if kind == "sqlite":
        _sqlite_copy(source, _sqlite_path(engine.url))
        return
    _pg_tool(["pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges",
              "--single-transaction", "--exit-on-error", str(source)], engine.url)


def check_target(engine: Engine, kind: BackupKind) -> BackupKind:
    """``kind`` if a backup of that kind restores into ``engine``'s database, else why not."""
    target = _engine_kind(engine)
    if kind != target:
        raise BackupFailed(f"this is a {kind} backup: it restores into {kind} only, "
                           f"and the configured database is {target}")
    return kind


# -- SQLite ---------------------------------------------------------------------------------
def _engine_kind(engine: Engine) -> BackupKind:
    name = engine.dialect.name
    if name == "sqlite":
        return "sqlite"
    if name == "postgresql":
        return "postgresql"
    raise BackupFailed(f"backups of {name} databases are not supported")


def _sqlite_path(url: URL) -> Path:
    database = url.database or ""
    if database in {"", ":memory:"} or database.startswith("file:"):
        raise BackupFailed("an in-memory SQLite database cannot be backed up or restored")
    return Path(database).expanduser()


def _sqlite_copy(source: Path, target: Path) -> None:
    """Copy every page of ``source`` into ``target`` in one step (one read transaction)."""
    try:
        with contextlib.closing(_sqlite_open(source, read_only=True)) as src, \
                contextlib.closing(_sqlite_open(target, read_only=False)) as dst:
            src.backup(dst)
    except sqlite3.Error as exc:
        raise BackupFailed(f"SQLite backup failed: {exc}") from None


def _sqlite_open(path: Path, *, read_only: bool) -> sqlite3.Connection:
    if read_only:
        if not path.is_file():
            raise BackupFailed(f"{path} does not exist")
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    else:
        conn = sqlite3.connect(path, timeout=30)
    return conn


def _sqlite_contents(path: Path) -> BackupContents:
    try:
        with contextlib.closing(_sqlite_open(path, read_only=True)) as conn:
            tables = {row[0] for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "alembic_version" not in tables or "otp_credentials" not in tables:
                raise BackupFailed(f"{path} is a SQLite file but not an otpgate database")
            revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            rows = conn.execute(
                "SELECT id, user_id, key_id, secret_sealed FROM otp_credentials ORDER BY id"
            ).fetchall()
    except sqlite3.Error as exc:
        raise BackupFailed(f"cannot read the backup {path}: {exc}") from None
    secrets = [SealedSecret(int(i), int(u), str(k), bytes(s)) for i, u, k, s in rows]
    return BackupContents("sqlite", revision[0] if revision else None, secrets)


# -- PostgreSQL -----------------------------------------------------------------------------
def _pg_tool(argv: list[str], url: URL | None, *, stdout: IO[bytes] | None = None) -> str:
    """Run a PostgreSQL client program (on the database of ``url``); its standard output."""
    program = shutil.which(argv[0])
    if program is None:
        raise BackupFailed(
            f"{argv[0]} not found: install the PostgreSQL client programs "
            "(Debian: postgresql-client) of the server's major version or newer"
        )
    args, env = [program, *argv[1:]], dict(os.environ)
    if url is not None:
        # The password goes through the environment, not the command line (ps shows it).
        if url.password is not None:
            env["PGPASSWORD"] = str(url.password)
        dsn = url.set(drivername="postgresql", password=None)
        args.append(f"--dbname={dsn.render_as_string(hide_password=False)}")
    try:
        done = subprocess.run(
            args, env=env, stdout=stdout if stdout is not None else subprocess.PIPE,
            stderr=subprocess.PIPE, timeout=_PG_TOOL_TIMEOUT_S, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BackupFailed(f"{argv[0]} failed: {exc}") from None
    if done.returncode != 0:
        raise BackupFailed(f"{argv[0]} failed: {_first_error_line(done.stderr)}")
    return done.stdout.decode("utf-8", "replace") if isinstance(done.stdout, bytes) else ""


def _first_error_line(stderr: bytes) -> str:
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines()]
    useful = [line for line in lines if line]
    return (useful[0] if useful else "no message")[:300]


def _pgdump_contents(path: Path) -> BackupContents:
    script = _pg_tool(["pg_restore", "--data-only", "--table=alembic_version",
                       "--table=otp_credentials", "--file=-", str(path)], None)
    tables = dict(_copy_blocks(script))
    if "otp_credentials" not in tables or "alembic_version" not in tables:
        raise BackupFailed(f"{path} is a pg_dump archive but not of an otpgate database")
    versions = [row["version_num"] for row in tables["alembic_version"]]
    secrets = [
        SealedSecret(int(row["id"] or 0), int(row["user_id"] or 0), row["key_id"] or "",
                     bytes.fromhex((row["secret_sealed"] or "").removeprefix("\\x")))
        for row in tables["otp_credentials"]
    ]
    return BackupContents("postgresql", versions[0] if versions else None, secrets)


def _copy_blocks(script: str) -> Iterator[tuple[str, list[dict[str, str | None]]]]:
    """The tables of a plain-text restore script: ``COPY name (cols) FROM stdin;`` blocks."""
    lines = iter(script.splitlines())
    for line in lines:
        if not line.startswith("COPY ") or not line.endswith(" FROM stdin;"):
            continue
        name, _, columns = line[5:].partition(" (")
        names = [c.strip().strip('"') for c in columns.split(") FROM", 1)[0].split(",")]
        rows: list[dict[str, str | None]] = []
        for row in lines:
            if row == "\\.":
                break
            values = [_copy_value(v) for v in row.split("\t")]
            rows.append(dict(zip(names, values, strict=True)))
        yield name.rpartition(".")[2].strip('"'), rows


def _copy_value(raw: str) -> str | None:
    # COPY's text format: \N is NULL and a backslash is doubled (bytea hex is \\x…).
    if raw == "\\N":
        return None
    return raw.replace("\\\\", "\\")
