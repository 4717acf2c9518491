"""Errors of the PAM adapter: a configuration or map file that cannot be used."""

from __future__ import annotations

__all__ = ["BadAnswer", "FileRefused", "PamError"]


class PamError(Exception):
    """Root of the PAM adapter's errors; never raised itself."""


class FileRefused(PamError, ValueError):
    """A configuration or map file is missing, unsafe (writable by others) or malformed."""


class BadAnswer(PamError, ValueError):
    """The answer to the code prompt is not one line of printable ASCII of a sane size."""
