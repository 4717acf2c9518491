"""Shared secrets: generation, base32 text form, display form.

Authenticator apps exchange the key as RFC 4648 base32. Decoding is tolerant of what
people type or paste (lowercase, spaces, dashes, missing ``=`` padding) and strict about
everything else: any other character, an impossible length, or a key shorter than 128
bits is refused with :class:`InvalidSecret`.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets as _random
from typing import Final

from otpgate.otp._params import MAX_KEY_BYTES, MIN_KEY_BYTES
from otpgate.otp.errors import InvalidParameter, InvalidSecret

__all__ = [
    "DEFAULT_SECRET_BYTES",
    "MIN_SECRET_BYTES",
    "b32decode",
    "b32encode",
    "grouped",
    "new_secret",
]

# 160 bits, as RFC 4226 section 4 recommends (and what every app expects).
DEFAULT_SECRET_BYTES: Final = 20
# 128 bits: RFC 4226 section 4, requirement R6.
MIN_SECRET_BYTES: Final = MIN_KEY_BYTES
_MAX_TEXT: Final = MAX_KEY_BYTES * 8 // 5 * 2  # generous room for separators
_B32_TEXT = re.compile(r"[A-Z2-7]*")
# Characters left in the last 8-character group: 1, 3 and 6 cannot end a base32 text.
_VALID_TAIL: Final = frozenset({0, 2, 4, 5, 7})


def new_secret(nbytes: int = DEFAULT_SECRET_BYTES) -> bytes:
    """A new random key of ``nbytes`` bytes (16 to 1024) from the OS's CSPRNG."""
    if not (isinstance(nbytes, int) and not isinstance(nbytes, bool)) or not (
        MIN_KEY_BYTES <= nbytes <= MAX_KEY_BYTES
    ):
        raise InvalidParameter(
            f"a new secret must have {MIN_KEY_BYTES} to {MAX_KEY_BYTES} bytes, got {nbytes!r}"
        )
    return _random.token_bytes(nbytes)


def b32encode(key: bytes) -> str:
    """The key as upper-case base32 without ``=`` padding (the form apps expect)."""
    if not isinstance(key, bytes | bytearray):
        raise InvalidSecret(f"the key must be bytes, not {type(key).__name__}")
    return base64.b32encode(key).decode("ascii").rstrip("=")


def b32decode(text: str, *, allow_short: bool = False) -> bytes:
    """The key encoded by ``text``; InvalidSecret if it is not acceptable base32.

    Lowercase, spaces, dashes and missing or present trailing ``=`` are accepted.
    Keys shorter than 128 bits are refused unless ``allow_short`` (some old
    deployments used 80-bit keys); an empty key is always refused.
    """
    if not isinstance(text, str):
        raise InvalidSecret(f"the secret must be text, not {type(text).__name__}")
    if len(text) > _MAX_TEXT:
        raise InvalidSecret("the secret is too long")
    compact = text.replace(" ", "").replace("-", "").rstrip("=").upper()
    # The ASCII check matters: str.upper() maps some non-ASCII letters onto A-Z.
    if not compact.isascii() or _B32_TEXT.fullmatch(compact) is None:
        raise InvalidSecret(
            "the secret is not base32: only letters A-Z, digits 2-7, spaces and dashes"
        )
    if not compact:
        raise InvalidSecret("the secret is empty")
    if len(compact) % 8 not in _VALID_TAIL:
        raise InvalidSecret(
            f"the secret has {len(compact)} base32 characters, a length no key encodes to"
        )
    padding = "=" * (-len(compact) % 8)
    try:
        key = base64.b32decode(compact + padding)
    except binascii.Error:  # unreachable after the checks above; kept as a guard
        raise InvalidSecret("the secret is not valid base32") from None
    if len(key) < MIN_KEY_BYTES and not allow_short:
        raise InvalidSecret(
            f"the secret has {len(key) * 8} bits; at least {MIN_KEY_BYTES * 8} are required"
        )
    return key


def grouped(b32: str) -> str:
    """``b32`` in groups of four characters for typing by hand: ``"ABCD EFGH IJ"``."""
    compact = b32.replace(" ", "")
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))
