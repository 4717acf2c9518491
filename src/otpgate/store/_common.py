"""Helpers shared by the repository modules (private)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, TypeVar, cast

from sqlalchemy import CursorResult, Executable
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from otpgate.store.errors import Conflict, InvalidValue
from otpgate.store.models import Base

__all__ = ["conflict_message", "insert_all", "insert_row", "rowcount", "upsert"]

_Row = TypeVar("_Row", bound=Base)


def insert_row(s: Session, row: _Row) -> _Row:
    """Add ``row`` and flush it now, so it has its id and a duplicate raises here.

    The flush runs in a SAVEPOINT: a :class:`Conflict` (duplicate, missing referenced
    row) or :class:`InvalidValue` (too long for its column…) leaves the caller's
    transaction usable and unchanged instead of doomed.
    """
    insert_all(s, [row])
    return row


def insert_all(s: Session, rows: Sequence[Base]) -> None:
    """Like :func:`insert_row` for several rows at once: all are stored or none."""
    if not rows:
        return
    try:
        with s.begin_nested():
            s.add_all(rows)
    except IntegrityError as exc:
        raise Conflict(conflict_message(rows[0].__tablename__, exc)) from None
    except DataError:
        table = rows[0].__tablename__
        raise InvalidValue(f"{table}: a value does not fit its column") from None


def conflict_message(table: str, exc: IntegrityError) -> str:
    """A one-line reason for a broken constraint that shows no stored value."""
    server = str(exc.orig).lower()
    if "foreign key" in server:
        return f"{table}: the row it refers to does not exist"
    if "unique" in server or "duplicate" in server:
        return f"{table}: a row with this value already exists"
    return f"{table}: the row breaks a constraint of the table"


def rowcount(
    s: Session, statement: Executable, *, sync: Literal["evaluate", False] = "evaluate"
) -> int:
    """Run an UPDATE or DELETE in the session's transaction; the number of rows it hit.

    With ``sync="evaluate"`` the criteria are also applied to rows already loaded in the
    session (deleted ones leave it), so callers never see a row that is gone.
    """
    result = s.execute(statement, execution_options={"synchronize_session": sync})
    return cast(CursorResult[Any], result).rowcount


def upsert(s: Session, model: type[Base]) -> Any:
    """The dialect's INSERT that has ``on_conflict_do_update`` (PostgreSQL or SQLite)."""
    if s.get_bind().dialect.name == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)
