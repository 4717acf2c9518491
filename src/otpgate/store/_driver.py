"""Core statements run on the database driver's own cursor, for the code check.

SQLAlchemy compiles and caches a statement once, but each execution still builds an
execution context and the result's metadata (psycopg then describes every column): for
the code check, the busiest path of the service, that was more CPU than the driver's own
work. A :class:`DriverStatement` is compiled once per dialect by SQLAlchemy, with the
statement's own bind and result processing (aware UTC datetimes, JSON), and then run on
the DBAPI cursor of the :class:`~sqlalchemy.engine.Connection`'s transaction. What stays
the same: the SQL text, the transaction (begun and committed by SQLAlchemy), the engine's
``before_cursor_execute`` listeners (statement counts in tests see these statements), and
errors (raised as SQLAlchemy's, so :func:`~otpgate.store.db.translate_errors` maps them
and a dropped connection is invalidated).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.sql.expression import Executable

__all__ = ["DriverStatement"]

Processor = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...] | None  # positional drivers (SQLite): the order of the values
    defaults: dict[str, Any]  # values of the statement's own literals
    binds: tuple[tuple[str, Processor], ...]


class DriverStatement:
    """One Core statement, compiled on first use for each dialect."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}
        # Result processors depend on the types the driver reports: found on first use.
        self._results: dict[str, tuple[tuple[int, Processor], ...]] = {}
        self._lock = threading.Lock()

    def rows(self, conn: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run with ``params``; the rows it returns (SELECT, or RETURNING)."""
        compiled = self._compiled_for(conn.dialect)
        cursor = _driver_connection(conn).cursor()
        try:
            values = _values(compiled, params)
            _execute(conn, cursor, compiled.sql, values, many=False)
            results = self._results.get(conn.dialect.name)
            if results is None:
                if cursor.description is None:
                    return []
                results = _result_processors(self.statement, conn.dialect, cursor.description)
                self._results[conn.dialect.name] = results
            rows: list[tuple[Any, ...]] = cursor.fetchall()
            if not results:
                return rows
            return [_processed(results, row) for row in rows]
        finally:
            cursor.close()

    def run_many(self, conn: Connection, params: Sequence[Mapping[str, Any]]) -> None:
        """Run once for each of ``params`` (no rows returned)."""
        compiled = self._compiled_for(conn.dialect)
        cursor = _driver_connection(conn).cursor()
        try:
            values = [_values(compiled, p) for p in params]
            _execute(conn, cursor, compiled.sql, values, many=True)
        finally:
            cursor.close()

    def _compiled_for(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            with self._lock:
                found = self._compiled.get(dialect.name) or _compile(self.statement, dialect)
                self._compiled[dialect.name] = found
        return found


def _driver_connection(conn: Connection) -> Any:
    dbapi_connection = conn.connection.dbapi_connection
    if dbapi_connection is None:  # pragma: no cover - a Connection in a transaction has one
        raise RuntimeError("the connection has no DBAPI connection")
    return dbapi_connection


def _compile(statement: Executable, dialect: Dialect) -> _Compiled:
    compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
    binds = {}  # by name: a parameter used twice is processed once
    for bind, name in compiled.bind_names.items():
        processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None:
            binds[name] = processor
    names = tuple(compiled.positiontup) if compiled.positional else None
    return _Compiled(
        str(compiled), names, compiled.construct_params(_check=False), tuple(binds.items())
    )


def _result_processors(
    statement: Executable, dialect: Dialect, description: Sequence[Sequence[Any]]
) -> tuple[tuple[int, Processor], ...]:
    columns = getattr(statement, "exported_columns", ())
    found = []
    for i, (column, described) in enumerate(zip(columns, description, strict=True)):
        processor = column.type.dialect_impl(dialect).result_processor(dialect, described[1])
        if processor is not None:
            found.append((i, processor))
    return tuple(found)


def _values(compiled: _Compiled, params: Mapping[str, Any]) -> Any:
    values = {**compiled.defaults, **params}
    for name, processor in compiled.binds:
        values[name] = processor(values[name])
    if compiled.names is not None:
        return tuple(values[name] for name in compiled.names)
    return values


def _processed(results: tuple[tuple[int, Processor], ...], row: Sequence[Any]) -> tuple[Any, ...]:
    out = list(row)
    for i, processor in results:
        out[i] = processor(out[i])
    return tuple(out)


def _execute(conn: Connection, cursor: Any, sql: str, values: Any, *, many: bool) -> None:
    listeners = conn.dispatch.before_cursor_execute
    if listeners:
        listeners(conn, cursor, sql, values, None, many)
    dbapi = conn.dialect.loaded_dbapi
    try:
        if many:
            cursor.executemany(sql, values)
        else:
            cursor.execute(sql, values)
    except dbapi.Error as exc:
        raise _wrapped(conn, cursor, sql, exc) from None


def _wrapped(conn: Connection, cursor: Any, sql: str, exc: Any) -> StatementError:
    """The error as SQLAlchemy would raise it (never with the values: they may be
    secrets); a connection the server dropped is invalidated, as SQLAlchemy does."""
    lost = conn.dialect.is_disconnect(exc, _driver_connection(conn), cursor)
    if lost:
        conn.invalidate(exc)
    error: StatementError = DBAPIError.instance(
        sql, None, exc, conn.dialect.loaded_dbapi.Error, hide_parameters=True,
        connection_invalidated=lost, dialect=conn.dialect,
    )
    return error
