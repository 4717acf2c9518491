"""One use case, one transaction: the store's errors become the service's.

Every use case opens exactly one :func:`unit_of_work`; a use case that must *remember* a
failure (a throttle count, an audit row) and still refuse the caller commits first and
raises after the ``with`` block.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from otpgate.service.errors import AccountDisabled, Conflict, InvalidInput, NotFound
from otpgate.store import errors as store_errors
from otpgate.store.db import connection_transaction, transaction
from otpgate.store.models import User

if TYPE_CHECKING:
    from otpgate.service.context import Context

__all__ = ["check_id", "connection_of_work", "load_active_user", "load_user", "unit_of_work"]


@contextmanager
def unit_of_work(ctx: Context) -> Iterator[Session]:
    """A session in one transaction: commit on success, roll back on any error."""
    try:
        with transaction(ctx.session_factory) as session:
            yield session
    except store_errors.NotFound as exc:
        raise NotFound(str(exc) or "Not found.") from None
    except store_errors.Conflict as exc:
        raise Conflict(str(exc) or "This conflicts with existing data.") from None


@contextmanager
def connection_of_work(ctx: Context) -> Iterator[Connection]:
    """:func:`unit_of_work` in SQLAlchemy Core: a connection in one transaction (the code
    check's hot path). Same commit/rollback and error mapping."""
    engine = ctx.session_factory.kw.get("bind")
    if not isinstance(engine, Engine):
        raise TypeError("the context's session factory is not bound to an engine")
    try:
        with connection_transaction(engine) as conn:
            yield conn
    except store_errors.NotFound as exc:
        raise NotFound(str(exc) or "Not found.") from None
    except store_errors.Conflict as exc:
        raise Conflict(str(exc) or "This conflicts with existing data.") from None


def check_id(value: object, what: str = "id") -> int:
    """An integer row id, or :class:`InvalidInput` (``bool`` is not an id)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"The {what} must be an integer.")
    if value < 1 or value > 2**63 - 1:
        raise InvalidInput(f"The {what} is out of range.")
    return value


def load_user(session: Session, user_id: object) -> User:
    """The user with this id, active or not; :class:`NotFound` if none."""
    user = session.get(User, check_id(user_id, "user id"))
    if user is None:
        raise NotFound("No such user.")
    return user


def load_active_user(session: Session, user_id: object) -> User:
    """The user with this id; :class:`NotFound` if none, :class:`AccountDisabled` if inactive."""
    user = load_user(session, user_id)
    if not user.is_active:
        raise AccountDisabled()
    return user
