"""Random tokens, recovery codes, their hashes and constant-time comparison.

Tokens (sessions, trusted devices, CSRF, API) are 256-bit random strings, so a plain
SHA-256 is enough to store them: nothing can be guessed from the hash. Recovery codes
have 60 bits, which no online guessing reaches under throttling, but which a dump with
a plain hash would let anyone try offline at billions a second: they are stored as an
HMAC under a key derived from the secret keys (:func:`keyed_recovery_hash`).
:func:`hash_recovery_code`, the domain-separated SHA-256 earlier versions stored, is kept
to find those rows. Single use is the caller's job.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING

from otpgate.security.errors import MalformedToken

if TYPE_CHECKING:
    from otpgate.security.secretbox import KeyRing

__all__ = [
    "RECOVERY_ALPHABET",
    "RECOVERY_CODE_BITS",
    "hash_recovery_code",
    "hash_token",
    "keyed_recovery_hash",
    "new_recovery_code",
    "new_token",
    "normalise_recovery_code",
    "tokens_equal",
]

# 32 symbols, 5 bits each: lowercase letters and digits without 0/o and 1/l, the pairs
# people confuse when copying from paper. ("i" stays: with neither 1 nor l it is clear.)
RECOVERY_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
_GROUPS = 3
_GROUP_LEN = 4
_CODE_LEN = _GROUPS * _GROUP_LEN
RECOVERY_CODE_BITS = _CODE_LEN * 5
# Longest input worth looking at: the code, spaces or dashes between every symbol, and
# some slack for stray whitespace around a pasted code.
_MAX_INPUT = 64
_ALLOWED = frozenset(RECOVERY_ALPHABET)
_RECOVERY_TAG = b"otpgate-recovery-code-v1\x00"
RECOVERY_HASH_PURPOSE = "recovery-code"
_MIN_TOKEN_BYTES = 16


def new_token(nbytes: int = 32) -> str:
    """A URL-safe random token of *nbytes* random bytes (at least 16)."""
    if nbytes < _MIN_TOKEN_BYTES:
        raise ValueError(f"a token needs at least {_MIN_TOKEN_BYTES} random bytes")
    return secrets.token_urlsafe(nbytes)


def hash_token(token: str) -> str:
    """SHA-256 hex digest of a high-entropy token, to store instead of the token."""
    if not isinstance(token, str):
        raise TypeError(f"token must be str, not {type(token).__name__}")
    return hashlib.sha256(_utf8(token)).hexdigest()


def new_recovery_code() -> str:
    """A fresh recovery code such as ``"7kq2-mzx9-ahe4"`` (60 random bits)."""
    symbols = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(_CODE_LEN))
    return _dashed(symbols)


def _dashed(symbols: str) -> str:
    return "-".join(symbols[i : i + _GROUP_LEN] for i in range(0, _CODE_LEN, _GROUP_LEN))


def normalise_recovery_code(text: object) -> str:
    """Canonical ``xxxx-xxxx-xxxx`` form of what a user typed, or :class:`MalformedToken`.

    Case, spaces and dashes do not matter; anything else (another symbol, another
    length, non-ASCII look-alikes, a non-string) is refused.
    """
    if not isinstance(text, str):
        raise MalformedToken("recovery code must be text")
    # ASCII first: str.lower() maps some non-ASCII letters (e.g. the Kelvin sign) to
    # ASCII ones, which would let look-alikes through.
    if len(text) > _MAX_INPUT or not text.isascii():
        raise MalformedToken("not a recovery code")
    symbols = "".join(text.split()).replace("-", "").lower()
    if len(symbols) != _CODE_LEN or not _ALLOWED.issuperset(symbols):
        raise MalformedToken(
            f"a recovery code has {_CODE_LEN} letters and digits, like abcd-efgh-ijkm"
        )
    return _dashed(symbols)


def hash_recovery_code(code: str) -> str:
    """The unkeyed hex digest earlier versions stored for a recovery code (legacy rows);
    any accepted spelling gives the same hash.

    Raises :class:`MalformedToken` if *code* is not a recovery code.
    """
    canonical = normalise_recovery_code(code)
    return hashlib.sha256(_RECOVERY_TAG + canonical.encode("ascii")).hexdigest()


def keyed_recovery_hash(keyring: KeyRing, code: str, *, key_id: str | None = None) -> str:
    """Hex HMAC to store for a recovery code, under key *key_id* of the ring (the primary
    if None); any accepted spelling gives the same hash.

    Raises :class:`MalformedToken` if *code* is not a recovery code.
    """
    canonical = normalise_recovery_code(code)
    return keyring.keyed_hash(RECOVERY_HASH_PURPOSE, canonical.encode("ascii"), key_id=key_id)


def tokens_equal(a: str, b: str) -> bool:
    """Compare two strings in time independent of where they differ."""
    if not isinstance(a, str) or not isinstance(b, str):
        raise TypeError("tokens_equal compares two str")
    return hmac.compare_digest(_utf8(a), _utf8(b))


def _utf8(text: str) -> bytes:
    # surrogatepass: any str has bytes to hash or compare, so odd input never raises here.
    return text.encode("utf-8", "surrogatepass")
