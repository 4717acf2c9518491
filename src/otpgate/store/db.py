"""Engines, sessions and the one transaction helper every use case goes through.

Two backends are supported: SQLite (the embedded default, one host) and PostgreSQL
through psycopg 3 (several processes on several hosts). Anything else is refused.
"""

from __future__ import annotations

import select
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DataError,
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.orm import Session, sessionmaker

from otpgate.security.private_files import (
    PRIVATE_FILE_MODE,
    check_private,
    create_private_file,
    private_dir,
)
from otpgate.store.errors import (
    Conflict,
    DatabaseUnavailable,
    InvalidDatabaseUrl,
    InvalidValue,
)

__all__ = [
    "connection_transaction",
    "make_engine",
    "make_session_factory",
    "transaction",
    "translate_errors",
    "write_gate",
]

# Milliseconds a SQLite writer waits for another writer's lock before giving up.
SQLITE_BUSY_TIMEOUT_MS = 5000
# Seconds to wait for a PostgreSQL server before reporting it unavailable.
PG_CONNECT_TIMEOUT_S = 10


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    """An engine for a ``sqlite:///…`` or ``postgresql+psycopg://…`` URL.

    ``postgresql://`` and ``postgres://`` are read as psycopg 3. ``pool_size`` is the
    number of connections kept open; up to twice as many more are opened under load.
    Raises :class:`InvalidDatabaseUrl` for a malformed URL or another backend.
    """
    parsed = _parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, pool_size)
    engine = create_engine(
        parsed,
        pool_size=pool_size,
        max_overflow=2 * pool_size,
        connect_args={"connect_timeout": PG_CONNECT_TIMEOUT_S}
        if "connect_timeout" not in parsed.query
        else {},
    )
    event.listen(engine, "checkout", _closed_by_server)
    return engine


def _closed_by_server(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Refuse a pooled connection the server has closed (restart, terminated backend).

    An idle connection has nothing to read; when the server ends it, its goodbye and the
    end of the stream make the socket readable. Asking the kernel costs no round trip,
    unlike a ``SELECT 1`` before every use (pre-ping), which was 5 % of a code check.
    The pool discards the connection and opens another. A connection silently dropped
    by the network is still found only when used: that request fails (503) and the pool
    starts afresh.
    """
    poller = select.poll()
    poller.register(dbapi_connection.fileno(), select.POLLIN)
    if poller.poll(0):
        raise DisconnectionError("the server closed this pooled connection")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine``; objects stay readable after commit."""
    # expire_on_commit=False: use cases return views built from rows after the commit,
    # and reloading them would cost a query each and fail once the session is closed.
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session in one transaction: committed on success, rolled back on any error.

    Database errors leave as store errors with a one-line message: a broken unique or
    foreign-key constraint as :class:`Conflict`, a value that does not fit its column as
    :class:`InvalidValue`, an unreachable or busy database as :class:`DatabaseUnavailable`.
    Other exceptions pass through unchanged.
    """
    bind = factory.kw.get("bind")
    gate = _gates.get(bind) if isinstance(bind, Engine) else None
    with translate_errors(), gate or nullcontext(), factory() as session, session.begin():
        yield session


@contextmanager
def connection_transaction(engine: Engine) -> Iterator[Connection]:
    """:func:`transaction` for SQLAlchemy Core: a connection in one transaction, with the
    same write gate, commit/rollback and error translation, and no ORM session (the code
    check's hot path; a :class:`Session` may still join it with ``Session(bind=conn)``)."""
    gate = _gates.get(engine)
    with translate_errors(), gate or nullcontext(), engine.begin() as conn:
        yield conn


class _WriteGate:
    """Threads of one process take turns at a SQLite file's write lock.

    Every transaction on SQLite takes the write lock (``BEGIN IMMEDIATE``); threads that
    find it taken would wait in SQLite's busy handler, which sleeps and retries (up to
    100 ms a time) instead of waking when the lock is free. Queuing them on a Python lock
    first hands the turn over at once. Re-entrant, so a nested transaction behaves as
    before (it waits for SQLite's busy timeout); waiting longer than that timeout is
    :class:`DatabaseUnavailable`, as a busy database was before. Other processes on the
    same file still meet SQLite's own lock.
    """

    def __init__(self, timeout: float) -> None:
        self._lock = threading.RLock()
        self._timeout = timeout

    def __enter__(self) -> None:
        if not self._lock.acquire(timeout=self._timeout):
            raise DatabaseUnavailable("database unavailable: database is locked")

    def __exit__(self, *exc_info: object) -> None:
        self._lock.release()


_gates: weakref.WeakKeyDictionary[Engine, _WriteGate] = weakref.WeakKeyDictionary()


def write_gate(engine: Engine) -> _WriteGate | None:
    """The gate of a SQLite file engine (see :class:`_WriteGate`); None for other engines."""
    return _gates.get(engine)


@contextmanager
def translate_errors() -> Iterator[None]:
    """Turn SQLAlchemy's database errors raised inside the block into store errors."""
    try:
        yield
    except IntegrityError as exc:
        # The parameters may hold hashes or names: only the server's first line is kept,
        # and the original is not chained (it prints the statement and its parameters).
        raise Conflict(f"conflict with stored data: {_first_line(exc)}") from None
    except DataError as exc:
        raise InvalidValue(f"value not accepted by the database: {_first_line(exc)}") from None
    except (OperationalError, InterfaceError) as exc:
        raise DatabaseUnavailable(f"database unavailable: {_first_line(exc)}") from None
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise DatabaseUnavailable(f"database unavailable: {_first_line(exc)}") from None
        raise


def _first_line(exc: DBAPIError) -> str:
    text = str(exc.orig) if exc.orig is not None else type(exc).__name__
    line = text.strip().splitlines()[0] if text.strip() else type(exc.orig).__name__
    return line[:300]


def _parse_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise InvalidDatabaseUrl("malformed database URL") from None
    if parsed.drivername == "sqlite":
        return parsed
    if parsed.drivername in {"postgresql", "postgres", "postgresql+psycopg"}:
        return parsed.set(drivername="postgresql+psycopg")
    raise InvalidDatabaseUrl(
        f"unsupported database URL scheme {parsed.drivername!r}: "
        "use sqlite:///PATH or postgresql+psycopg://…"
    )


def _sqlite_engine(url: URL, pool_size: int) -> Engine:
    database = url.database or ""
    in_memory = database in {"", ":memory:"} or url.query.get("mode") == "memory"
    if in_memory:
        # One connection per thread (SQLAlchemy's default): each would be its own database.
        engine = create_engine(url)
    else:
        if not database.startswith("file:"):
            _private_database_file(Path(database).expanduser())
        engine = create_engine(url, pool_size=pool_size, max_overflow=2 * pool_size)
        _gates[engine] = _WriteGate(SQLITE_BUSY_TIMEOUT_MS / 1000)
    event.listen(engine, "connect", _sqlite_on_connect(in_memory))
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _private_database_file(path: Path) -> None:
    """Create the database file 0600 (its directory 0700) if it is new; refuse one that
    group or others may read.

    SQLite gives the ``-wal`` and ``-shm`` files it creates the database file's mode, so
    a private database file keeps them private; existing ones are checked as well.
    """
    try:
        if not path.parent.exists():
            private_dir(path.parent, "database directory")
        create_private_file(path)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise DatabaseUnavailable(f"cannot create the database file {path}: {reason}") from None
    companions = [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm")]
    check_private("database file", [path, *companions], PRIVATE_FILE_MODE)


def _sqlite_on_connect(in_memory: bool) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event, not the sqlite3 module, start transactions
        # (the module would otherwise issue a deferred BEGIN lazily before DML).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys = ON")
            if not in_memory:
                # WAL lets readers go on while one writer writes. synchronous stays at
                # its default (FULL): a lost last_step after a power cut would let an
                # already used code be accepted again.
                cursor.execute("PRAGMA journal_mode = WAL")
        finally:
            cursor.close()

    return on_connect


def _sqlite_begin(conn: Any) -> None:
    # BEGIN IMMEDIATE takes SQLite's write lock when the transaction starts. With the
    # default deferred BEGIN, a transaction that reads (the credential) and then writes
    # (its last_step) fails at once with "database is locked" if another process wrote
    # in between: SQLite cannot wait for a snapshot that is already stale, so the busy
    # timeout does not help. Taking the lock up front makes writers queue for up to the
    # busy timeout instead. The cost is that transactions on one SQLite file run one at
    # a time, which suits the embedded single-host deployment; PostgreSQL is the
    # choice for many concurrent processes.
    conn.exec_driver_sql("BEGIN IMMEDIATE")
