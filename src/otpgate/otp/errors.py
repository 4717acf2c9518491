"""Errors of the OTP core.

Every error raised on purpose by :mod:`otpgate.otp` is an :class:`OtpError`, so a caller
can catch the one root class; the subclasses are also :class:`ValueError` because each of
them means "this value is not acceptable". Messages are one line and never contain a
secret or a submitted code.
"""

from __future__ import annotations

__all__ = [
    "InvalidParameter",
    "InvalidSecret",
    "InvalidUri",
    "MalformedCode",
    "OtpError",
    "UnsupportedAlgorithm",
]


class OtpError(Exception):
    """Root of the OTP core's errors; never raised itself."""


class MalformedCode(OtpError, ValueError):
    """A submitted code is not ASCII digits of the expected length (checked before any HMAC)."""


class InvalidSecret(OtpError, ValueError):
    """A secret is not valid base32, not bytes, or shorter than allowed."""


class InvalidUri(OtpError, ValueError):
    """An ``otpauth://`` URI is malformed; the message says which part and why."""


class UnsupportedAlgorithm(OtpError, ValueError):
    """The hash algorithm is not one of SHA1, SHA256 and SHA512."""


class InvalidParameter(OtpError, ValueError):
    """A parameter (digits, period, counter, time, window, label…) is out of range."""
