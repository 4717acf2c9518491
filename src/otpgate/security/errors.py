"""Errors of the security layer.

:class:`SecurityError` is the root and is never raised itself. Failures of the underlying
libraries (argon2-cffi, cryptography) never escape: they are turned into one of these,
raised ``from None`` so that no key material or library detail travels with them.
"""

from __future__ import annotations

__all__ = [
    "DecryptionFailed",
    "InvalidKeyConfig",
    "InvalidPasswordHash",
    "MalformedToken",
    "PasswordMismatch",
    "SecurityError",
    "UnsafeFileMode",
    "WeakPassword",
]


class SecurityError(Exception):
    """Root of the security layer's errors; catch it, never raise it."""


class DecryptionFailed(SecurityError):
    """A sealed value could not be opened.

    The one public error for every failure: tampered or truncated data, wrong context,
    a key id that is not in the ring, a value of the wrong type.
    """


class InvalidKeyConfig(SecurityError, ValueError):
    """The secret keys (environment or key file) are unusable; the message says why.

    The message never contains key material.
    """


class PasswordMismatch(SecurityError):
    """The password does not match the stored hash."""


class InvalidPasswordHash(PasswordMismatch):
    """The stored hash cannot be read; treated as a mismatch so verification fails closed."""


class WeakPassword(SecurityError, ValueError):
    """A new password is refused by :func:`check_password_strength`."""


class MalformedToken(SecurityError, ValueError):
    """A recovery code or token is not well formed (wrong type, alphabet or length)."""


class UnsafeFileMode(SecurityError, ValueError):
    """A private file or directory may be opened by group or others (or cannot be made);
    the message gives the ``chmod`` that fixes it."""
