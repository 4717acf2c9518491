"""Errors of the PAM adapter: unusable files, bad answers, bad daemon requests or setup."""

from __future__ import annotations

__all__ = ["BadAnswer", "DaemonSetupError", "FileRefused", "PamError", "ProtocolError"]


class PamError(Exception):
    """Root of the PAM adapter's errors; never raised itself."""


class FileRefused(PamError, ValueError):
    """A configuration or map file is missing, unsafe (writable by others) or malformed."""


class BadAnswer(PamError, ValueError):
    """The answer to the code prompt is not one line of printable ASCII of a sane size."""


class ProtocolError(PamError, ValueError):
    """A request to ``otpgate pam-daemon`` is not one well-formed, bounded request line."""


class DaemonSetupError(PamError):
    """``otpgate pam-daemon`` cannot listen safely (socket path in use, unsafe directory)."""
