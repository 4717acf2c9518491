"""HMAC-based one-time codes (RFC 4226 section 5), shared by :class:`Hotp` and :class:`Totp`.

The HMAC is computed from inner and outer hash states that absorbed the padded key
once, at construction; each code then costs two ``copy()`` calls and two short
compressions, about half the cost of ``hmac.digest`` (see ``benchmarks/otp_core.py``).
"""

from __future__ import annotations

import struct
from hmac import compare_digest
from typing import Final

from otpgate.otp._params import (
    ALGORITHMS,
    MAX_COUNTER,
    Algorithm,
    check_algorithm,
    check_digits,
    check_key,
)
from otpgate.otp.errors import InvalidParameter

__all__ = ["OtpBase"]

_IPAD: Final = bytes(b ^ 0x36 for b in range(256))
_OPAD: Final = bytes(b ^ 0x5C for b in range(256))
_pack_counter = struct.Struct(">Q").pack
_unpack_u32 = struct.Struct(">I").unpack_from


class OtpBase:
    """A key with its code parameters; computes and compares codes (no window policy)."""

    __slots__ = ("_algorithm", "_digits", "_format", "_inner_copy", "_modulus", "_outer_copy")

    def __init__(
        self, key: bytes, *, digits: int, algorithm: Algorithm, allow_short_key: bool
    ) -> None:
        raw = check_key(key, allow_short_key=allow_short_key)
        self._algorithm: Algorithm = check_algorithm(algorithm)
        self._digits = check_digits(digits)
        self._modulus = 10**self._digits
        self._format = b"%0" + str(self._digits).encode() + b"d"
        factory = ALGORITHMS[self._algorithm]
        block_size = factory(b"").block_size
        if len(raw) > block_size:  # RFC 2104: long keys are hashed first
            raw = factory(raw).digest()
        padded = raw.ljust(block_size, b"\0")
        # Only the bound copy methods are kept: the states themselves never escape.
        self._inner_copy = factory(padded.translate(_IPAD)).copy
        self._outer_copy = factory(padded.translate(_OPAD)).copy

    @property
    def digits(self) -> int:
        """Number of digits of a code (6 to 10)."""
        return self._digits

    @property
    def algorithm(self) -> Algorithm:
        """Hash algorithm of the HMAC."""
        return self._algorithm

    def _value(self, counter: int) -> int:
        """The truncated code value for one moving factor (RFC 4226 section 5.3)."""
        inner = self._inner_copy()
        inner.update(_pack_counter(counter))
        outer = self._outer_copy()
        outer.update(inner.digest())
        mac = outer.digest()
        value: int = (_unpack_u32(mac, mac[-1] & 0x0F)[0] & 0x7FFFFFFF) % self._modulus
        return value

    def _code(self, counter: int) -> str:
        """The code for one moving factor, zero-padded to ``digits``."""
        return (self._format % self._value(counter)).decode("ascii")

    def _match_range(self, want: bytes, first: int, last: int) -> int | None:
        """The moving factor in [first, last] whose code equals ``want``, or None.

        Every candidate is computed and compared (constant-time, equal-length bytes);
        there is no early exit, so the time taken does not reveal where a match was.
        If a code matches several factors (a 1 in 10**digits coincidence) the latest is
        returned, so a caller that stores it as "last used" cannot be replayed on the other.
        """
        if last > MAX_COUNTER:
            raise InvalidParameter("the window reaches beyond the largest counter (2**64 - 1)")
        inner_copy = self._inner_copy
        outer_copy = self._outer_copy
        modulus = self._modulus
        fmt = self._format
        found = -1
        # The loop body is _value() inlined: a method call per candidate costs ~10 %.
        for counter in range(first, last + 1):
            inner = inner_copy()
            inner.update(_pack_counter(counter))
            outer = outer_copy()
            outer.update(inner.digest())
            mac = outer.digest()
            value = (_unpack_u32(mac, mac[-1] & 0x0F)[0] & 0x7FFFFFFF) % modulus
            if compare_digest(fmt % value, want):
                found = counter
        return None if found < 0 else found
