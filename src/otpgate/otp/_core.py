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

__all__ = ["OtpBase", "code_value"]

_IPAD: Final = bytes(b ^ 0x36 for b in range(256))
_OPAD: Final = bytes(b ^ 0x5C for b in range(256))
_pack_counter = struct.Struct(">Q").pack
_unpack_u32 = struct.Struct(">I").unpack_from
# 10 typed digits can reach 9_999_999_999, more than 4 bytes hold.
_VALUE_BYTES: Final = 5


def code_value(digits: str) -> bytes:
    """A validated code (ASCII digits) in the form :meth:`OtpBase._match_range` compares."""
    return int(digits).to_bytes(_VALUE_BYTES)


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
        self._format = f"%0{self._digits}d"
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
        return self._format % self._value(counter)

    def _match_range(self, target: bytes, first: int, last: int) -> int | None:
        """The moving factor in [first, last] whose code value is ``target``, or None.

        ``target`` is :func:`code_value` of the normalised code. Every candidate is
        computed and compared in constant time, as equal-length bytes; there is no early
        exit, so the time taken does not reveal where a match was. The codes are compared
        as 5-byte big-endian integers: equal to comparing the zero-padded digit strings
        (same length, one value each) and cheaper to produce per candidate.
        If a code matches several factors (a 1 in 10**digits coincidence) the latest is
        returned, so a caller that stores it as "last used" cannot be replayed on the other.
        """
        if last > MAX_COUNTER:
            raise InvalidParameter("the window reaches beyond the largest counter (2**64 - 1)")
        # Locals, and _value() inlined: each lookup or call saved is ~1 % of a verification.
        inner_copy, outer_copy, modulus = self._inner_copy, self._outer_copy, self._modulus
        pack, unpack, equal, size = _pack_counter, _unpack_u32, compare_digest, _VALUE_BYTES
        found = -1
        for counter in range(first, last + 1):
            inner = inner_copy()
            inner.update(pack(counter))
            outer = outer_copy()
            outer.update(inner.digest())
            mac = outer.digest()
            if equal(((unpack(mac, mac[-1] & 0x0F)[0] & 0x7FFFFFFF) % modulus).to_bytes(size),
                     target):
                found = counter
        return None if found < 0 else found
