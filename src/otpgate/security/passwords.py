"""Password hashing with argon2id (argon2-cffi), and the rule for new passwords.

Passwords are normalised to Unicode NFKC before hashing and verifying (NIST SP 800-63B
5.1.1.2), so the same password typed on keyboards that compose characters differently
still matches. Throttling and the "unknown user" answer are the caller's job;
:meth:`PasswordHasher.dummy_verify` only makes the unknown-user path cost the same.
"""

from __future__ import annotations

import base64
import os
import unicodedata
from typing import Literal

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.low_level import ARGON2_VERSION

from otpgate.security.errors import InvalidPasswordHash, PasswordMismatch, WeakPassword

__all__ = [
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "PasswordHasher",
    "check_password_strength",
]

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024
# Anything longer cannot be a password we accepted; refusing it before hashing keeps a
# megabyte-sized form field from costing a hash.
_MAX_VERIFY_LENGTH = 4 * MAX_PASSWORD_LENGTH
_SALT_LEN = 16
_HASH_LEN = 32


def _prepare(password: str) -> str | None:
    """NFKC form of *password*, or None if it cannot be a password (too long, bad text)."""
    if not isinstance(password, str):
        raise TypeError(f"password must be str, not {type(password).__name__}")
    if len(password) > _MAX_VERIFY_LENGTH:
        return None
    normalised = unicodedata.normalize("NFKC", password)
    try:
        # Lone surrogates cannot be encoded to the UTF-8 that argon2 hashes.
        normalised.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return normalised


def _b64(raw: bytes) -> str:
    # The PHC string format uses standard base64 without padding.
    return base64.b64encode(raw).decode("ascii").rstrip("=")


class PasswordHasher:
    """argon2id with fixed parameters: hash, verify, tell when a hash is outdated.

    Tests should pass cheap parameters (``time_cost=1, memory_kib=8, parallelism=1``).
    """

    def __init__(self, time_cost: int, memory_kib: int, parallelism: int) -> None:
        if time_cost < 1 or parallelism < 1 or memory_kib < 8 * parallelism:
            raise ValueError(
                "argon2 needs time_cost >= 1, parallelism >= 1 and memory_kib >= 8 * parallelism"
            )
        self.time_cost = time_cost
        self.memory_kib = memory_kib
        self.parallelism = parallelism
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            hash_len=_HASH_LEN,
            salt_len=_SALT_LEN,
            type=argon2.Type.ID,
        )
        # A well-formed hash of nothing with our exact parameters: verifying against it
        # costs as much as a real verification, without paying for a hash up front.
        self._dummy = (
            f"$argon2id$v={ARGON2_VERSION}$m={memory_kib},t={time_cost},p={parallelism}"
            f"${_b64(os.urandom(_SALT_LEN))}${_b64(os.urandom(_HASH_LEN))}"
        )

    def __repr__(self) -> str:
        return (
            f"PasswordHasher(time_cost={self.time_cost}, memory_kib={self.memory_kib}, "
            f"parallelism={self.parallelism})"
        )

    def hash(self, password: str) -> str:
        """The argon2id hash of *password* in PHC string format (random salt).

        Raises :class:`WeakPassword` for text that cannot be hashed (lone surrogates,
        absurd length); check new passwords with :func:`check_password_strength` first.
        """
        prepared = _prepare(password)
        if prepared is None:
            raise WeakPassword("password cannot be hashed: invalid characters or too long")
        return self._hasher.hash(prepared)

    def verify(self, stored: str, password: str) -> Literal[True]:
        """Return True if *password* matches *stored*, else raise.

        Raises :class:`PasswordMismatch` on a wrong password, and its subclass
        :class:`InvalidPasswordHash` when *stored* is not a readable argon2 hash.
        """
        prepared = _prepare(password)
        if not isinstance(stored, str):
            raise InvalidPasswordHash("stored password hash is not text")
        if prepared is None:
            raise PasswordMismatch("password does not match")
        try:
            return self._hasher.verify(stored, prepared)
        except VerifyMismatchError:
            raise PasswordMismatch("password does not match") from None
        except InvalidHashError:
            raise InvalidPasswordHash("stored password hash is not a valid argon2 hash") from None
        except VerificationError:
            # Other libargon2 failures (e.g. decoding errors) fail closed as well.
            raise InvalidPasswordHash("stored password hash could not be verified") from None

    def needs_rehash(self, stored: str) -> bool:
        """True if *stored* was made with other parameters (or is unreadable).

        Call it after a successful :meth:`verify` and store a fresh :meth:`hash`.
        """
        try:
            return self._hasher.check_needs_rehash(stored)
        except (InvalidHashError, ValueError, TypeError):
            return True

    def dummy_verify(self, password: str) -> None:
        """Spend the cost of one verification and return; for users that do not exist.

        Calling it when the user is unknown keeps the response time from telling
        whether an account exists.
        """
        try:
            self.verify(self._dummy, password)
        except PasswordMismatch:
            return


def check_password_strength(password: object) -> None:
    """Refuse a new password that is not text or not 10 to 1024 characters long.

    Length is the only rule (NIST SP 800-63B: no composition rules); it is counted in
    code points after NFKC normalisation, as hashed. Raises :class:`WeakPassword`.
    """
    if not isinstance(password, str):
        raise WeakPassword("password must be text")
    prepared = _prepare(password)
    if prepared is None and len(password) <= _MAX_VERIFY_LENGTH:
        raise WeakPassword("password contains characters that cannot be used")
    length = _MAX_VERIFY_LENGTH + 1 if prepared is None else len(prepared)
    if length < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if length > MAX_PASSWORD_LENGTH:
        raise WeakPassword(f"password must have at most {MAX_PASSWORD_LENGTH} characters")
