"""Errors of the store layer.

Callers catch :class:`StoreError` (never raised itself) or one of its subclasses; every
message is one line and safe to show: it names the problem, never a row's content or a
database password.
"""

from __future__ import annotations

__all__ = [
    "BackupFailed",
    "Conflict",
    "DatabaseUnavailable",
    "InvalidDatabaseUrl",
    "InvalidValue",
    "NotFound",
    "SchemaMismatch",
    "StoreError",
]


class StoreError(Exception):
    """Root of the store layer's errors; never raised itself."""


class NotFound(StoreError):
    """The row asked for does not exist."""


class Conflict(StoreError):
    """A write broke a uniqueness or foreign-key constraint (e.g. a duplicate username)."""


class DatabaseUnavailable(StoreError):
    """The database cannot be reached or refused the connection."""


class InvalidDatabaseUrl(StoreError, ValueError):
    """The database URL is malformed or names a backend other than SQLite or PostgreSQL."""


class InvalidValue(StoreError, ValueError):
    """A value does not fit its column (too long, out of range, a NUL character)."""


class SchemaMismatch(StoreError):
    """The database's schema revision is unknown to this version of otpgate."""


class BackupFailed(StoreError):
    """A backup could not be written, read or restored; the message says why."""
