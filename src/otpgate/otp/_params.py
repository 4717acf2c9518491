"""Parameter checks shared by the OTP modules (private).

Each check returns the canonical value or raises the matching :class:`OtpError`, with a
one-line message that names the parameter and never repeats a secret.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Final, Literal, Protocol

from otpgate.otp.errors import InvalidParameter, InvalidSecret, UnsupportedAlgorithm

__all__ = [
    "ALGORITHMS",
    "MAX_COUNTER",
    "MAX_DIGITS",
    "MAX_KEY_BYTES",
    "MAX_PERIOD",
    "MAX_WINDOW",
    "MIN_DIGITS",
    "MIN_KEY_BYTES",
    "Algorithm",
    "HashFactory",
    "HashObject",
    "check_algorithm",
    "check_counter",
    "check_digits",
    "check_key",
    "check_period",
    "check_t0",
    "check_window",
]

Algorithm = Literal["SHA1", "SHA256", "SHA512"]


class HashObject(Protocol):
    """The part of a :mod:`hashlib` object the HMAC code uses."""

    @property
    def block_size(self) -> int: ...

    def copy(self) -> HashObject: ...

    def update(self, data: bytes, /) -> None: ...

    def digest(self) -> bytes: ...


HashFactory = Callable[[bytes], HashObject]

ALGORITHMS: Final[dict[str, HashFactory]] = {
    "SHA1": hashlib.sha1,
    "SHA256": hashlib.sha256,
    "SHA512": hashlib.sha512,
}
# RFC 4226 section 4, R6: at least 128 bits; 160 recommended (our default elsewhere).
MIN_KEY_BYTES: Final = 16
# Far above any real secret (SHA512 wants 64 bytes); bounds the work done on junk input.
MAX_KEY_BYTES: Final = 1024
MIN_DIGITS: Final = 6
# 10 digits is the most a 31-bit truncated value can fill (2**31 - 1 has 10 digits).
MAX_DIGITS: Final = 10
MAX_PERIOD: Final = 2**32
# The moving factor is an 8-byte big-endian integer (RFC 4226 section 5.2).
MAX_COUNTER: Final = 2**64 - 1
MAX_WINDOW: Final = 1000


def _int_in(value: object, low: int, high: int) -> int | None:
    """value if it is an int within [low, high], else None."""
    # bool is an int subclass, but digits=True is a bug, not the number 1.
    if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
        return value
    return None


def check_algorithm(algorithm: object) -> Algorithm:
    """The algorithm name in canonical upper case; UnsupportedAlgorithm otherwise."""
    if isinstance(algorithm, str):
        upper = algorithm.upper()
        if upper == "SHA1":
            return "SHA1"
        if upper == "SHA256":
            return "SHA256"
        if upper == "SHA512":
            return "SHA512"
    raise UnsupportedAlgorithm(
        f"unsupported algorithm {_show(algorithm)}: expected SHA1, SHA256 or SHA512"
    )


def check_digits(digits: object) -> int:
    """The number of digits of a code: an int from 6 to 10."""
    value = _int_in(digits, MIN_DIGITS, MAX_DIGITS)
    if value is None:
        raise InvalidParameter(
            f"digits must be a whole number from {MIN_DIGITS} to {MAX_DIGITS}, "
            f"got {_show(digits)}"
        )
    return value


def check_period(period: object) -> int:
    """The TOTP time step in seconds: an int of at least 1."""
    value = _int_in(period, 1, MAX_PERIOD)
    if value is None:
        raise InvalidParameter(
            f"period must be a whole number of seconds from 1 to {MAX_PERIOD}, "
            f"got {_show(period)}"
        )
    return value


def check_t0(t0: object) -> int:
    """The Unix time at which TOTP step 0 starts: an int from 0 to 2**63."""
    value = _int_in(t0, 0, 2**63)
    if value is None:
        raise InvalidParameter(f"t0 must be a whole number of seconds >= 0, got {_show(t0)}")
    return value


def check_counter(counter: object, name: str = "counter") -> int:
    """An HOTP counter or TOTP step: an int from 0 to 2**64 - 1."""
    value = _int_in(counter, 0, MAX_COUNTER)
    if value is None:
        raise InvalidParameter(
            f"{name} must be a whole number from 0 to 2**64 - 1, got {_show(counter)}"
        )
    return value


def check_window(window: object, name: str) -> int:
    """A verification window size (steps behind/ahead, HOTP look-ahead)."""
    value = _int_in(window, 0, MAX_WINDOW)
    if value is None:
        raise InvalidParameter(
            f"{name} must be a whole number from 0 to {MAX_WINDOW}, got {_show(window)}"
        )
    return value


def check_key(key: object, *, allow_short_key: bool) -> bytes:
    """The secret key as bytes, at least 128 bits unless explicitly allowed."""
    if not isinstance(key, bytes | bytearray | memoryview):
        raise InvalidSecret(f"the key must be bytes, not {type(key).__name__}")
    raw = bytes(key)
    if not raw:
        raise InvalidSecret("the key is empty")
    if len(raw) > MAX_KEY_BYTES:
        raise InvalidSecret(f"the key is longer than {MAX_KEY_BYTES} bytes")
    if len(raw) < MIN_KEY_BYTES and not allow_short_key:
        raise InvalidSecret(
            f"the key has {len(raw) * 8} bits; at least {MIN_KEY_BYTES * 8} are required "
            "(pass allow_short_key=True to accept a legacy short key)"
        )
    return raw


def _show(value: object) -> str:
    """A short, safe rendering of a rejected parameter for an error message."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
