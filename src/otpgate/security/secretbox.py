"""Secrets at rest: AES-256-GCM under a ring of named keys, so keys can be rotated.

A sealed value is ``nonce (12 random bytes) || ciphertext || tag``; the id of the key
that sealed it is stored beside it (returned by :meth:`KeyRing.seal`). The caller's
``context`` (e.g. ``b"otp-credential:42"``) is authenticated with it, so a sealed secret
copied onto another row does not open. Random 96-bit nonces are safe for far more
values than otpgate seals under one key (NIST SP 800-38D: 2**32 per key).

The same keys also give keyed hashes (:meth:`KeyRing.keyed_hash`) of values too short to
store under a plain hash, such as recovery codes: HMAC-SHA256 under a key derived from
each secret key with HKDF, separated by purpose, so a dump without the keys cannot be
searched offline. The id of the key is stored beside the hash, like a sealed value's.

Keys come from configuration (:func:`load_keyring`): ``OTPGATE_SECRET_KEYS`` as
``kid:base64url-key,kid2:...`` (first = primary), or else a key file in the same format,
one key per line, created with mode 0600 on first use.

A ring loaded from a key file follows that file: when ``otpgate keys rotate`` adds a new
primary key, running processes notice within :data:`RELOAD_CHECK_SECONDS` (and at once
when asked to open a value under a key id they don't know), so rotation needs no restart.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from otpgate.security._keyfile import (
    check_key_id,
    new_key_id,
    parse_keys,
    read_key_file,
    write_new,
)
from otpgate.security.errors import DecryptionFailed, InvalidKeyConfig

__all__ = [
    "KEY_BYTES",
    "RELOAD_CHECK_SECONDS",
    "KeyRing",
    "add_key_to_file",
    "load_keyring",
    "new_key",
]

KEY_BYTES = 32
# How stale a file-backed ring may be before a seal looks at the key file again.
RELOAD_CHECK_SECONDS = 2.0
_NONCE_BYTES = 12
_TAG_BYTES = 16
# Binds the key id into the authenticated data too, so a value relabelled with another
# id never opens, even if an operator configured one key under two names.
_AAD_PREFIX = b"otpgate-secretbox-v1\x00"
# HKDF "info" of the key each secret key gives for keyed hashes: never the AES key itself.
_HASH_KEY_INFO = b"otpgate-keyed-hash-v1"
_State = tuple[dict[str, AESGCM], tuple[str, ...], dict[str, bytes]]


def new_key() -> bytes:
    """A fresh random 256-bit key."""
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


def _aad(key_id: str, context: bytes) -> bytes:
    kid = key_id.encode("ascii")
    return _AAD_PREFIX + bytes([len(kid)]) + kid + context


class KeyRing:
    """Named AES-256-GCM keys: the first seals, every one of them opens.

    ``repr`` shows key ids only; the key bytes are kept inside the cipher objects, and
    only keys derived from them (for :meth:`keyed_hash`) beside.
    """

    __slots__ = ("_checked_at", "_file", "_lock", "_stamp", "_state")

    def __init__(self, keys: Sequence[tuple[str, bytes]], *, key_file: Path | None = None) -> None:
        self._state = _ciphers_of(keys)
        self._file = key_file
        self._stamp = _stamp(key_file) if key_file is not None else None
        self._checked_at = time.monotonic()
        self._lock = threading.Lock()

    def _current(self, *, force: bool = False) -> _State:
        """The ciphers, re-read from the key file if it changed since it was last read."""
        if self._file is None:
            return self._state
        now = time.monotonic()
        if not force and now - self._checked_at < RELOAD_CHECK_SECONDS:
            return self._state
        with self._lock:
            self._checked_at = now
            stamp = _stamp(self._file)
            if stamp is not None and stamp != self._stamp:
                # A file caught half-written or made invalid keeps the keys we have; the
                # next check tries again.
                with contextlib.suppress(InvalidKeyConfig):
                    keys = read_key_file(self._file)
                    if keys:
                        self._state = _ciphers_of(keys)
                        self._stamp = stamp
        return self._state

    @property
    def primary_id(self) -> str:
        """Id of the key that seals new values."""
        return self._current()[1][0]

    @property
    def ids(self) -> tuple[str, ...]:
        """All key ids, primary first."""
        return self._current()[1]

    def __repr__(self) -> str:
        return f"KeyRing(primary_id={self._state[1][0]!r}, ids={self._state[1]!r})"

    __str__ = __repr__

    def seal(self, plaintext: bytes, *, context: bytes) -> tuple[str, bytes]:
        """Encrypt *plaintext* under the primary key; return ``(key_id, nonce+ciphertext)``.

        *context* must be non-empty bytes naming the owner; pass the same to :meth:`open`.
        """
        if not isinstance(plaintext, bytes):
            raise TypeError("plaintext must be bytes")
        if not isinstance(context, bytes):
            raise TypeError("context must be bytes")
        if not context:
            raise ValueError("context must not be empty: it binds the value to its owner")
        ciphers, ids, _ = self._current()
        nonce = os.urandom(_NONCE_BYTES)
        sealed = ciphers[ids[0]].encrypt(nonce, plaintext, _aad(ids[0], context))
        return ids[0], nonce + sealed

    def keyed_hash(self, purpose: str, data: bytes, *, key_id: str | None = None) -> str:
        """HMAC-SHA256 (hex) of *data* for *purpose* under key *key_id* (the primary key
        if None), with a key derived from that secret key; store the key id beside it.

        Raises :class:`DecryptionFailed` for a key id that is not in the ring.
        """
        if not isinstance(data, bytes) or not isinstance(purpose, str) or not purpose:
            raise TypeError("keyed_hash takes a non-empty str purpose and bytes data")
        _, ids, hash_keys = self._current()
        kid = ids[0] if key_id is None else key_id
        key = hash_keys.get(kid)
        if key is None:
            key = self._current(force=True)[2].get(kid)
        if key is None:
            raise DecryptionFailed(f"unknown key id {str(kid)[:40]!r}")
        label = purpose.encode("utf-8")
        message = len(label).to_bytes(2, "big") + label + data
        return hmac.new(key, message, hashlib.sha256).hexdigest()

    def open(self, key_id: str, sealed: bytes | bytearray | memoryview, *, context: bytes) -> bytes:
        """Decrypt a value made by :meth:`seal`; any failure raises :class:`DecryptionFailed`."""
        if not isinstance(key_id, str):
            raise DecryptionFailed("sealed value has no valid key id")
        cipher = self._state[0].get(key_id)
        if cipher is None:
            # Sealed by a process that already loaded a newer key file: look again.
            cipher = self._current(force=True)[0].get(key_id)
        if cipher is None:
            raise DecryptionFailed(f"sealed value uses unknown key id {str(key_id)[:40]!r}")
        if not isinstance(sealed, bytes | bytearray | memoryview) or not isinstance(context, bytes):
            raise DecryptionFailed("sealed value or context is not bytes")
        data = bytes(sealed)
        if len(data) < _NONCE_BYTES + _TAG_BYTES:
            raise DecryptionFailed("sealed value is truncated")
        try:
            return cipher.decrypt(data[:_NONCE_BYTES], data[_NONCE_BYTES:], _aad(key_id, context))
        except Exception:
            # InvalidTag above all; whatever it is, the caller learns only that it failed.
            raise DecryptionFailed(
                "sealed value cannot be opened with this key and context"
            ) from None


def _ciphers_of(keys: Sequence[tuple[str, bytes]]) -> _State:
    if not keys:
        raise InvalidKeyConfig("no secret key configured")
    ciphers: dict[str, AESGCM] = {}
    hash_keys: dict[str, bytes] = {}
    seen: set[bytes] = set()
    for key_id, key in keys:
        _check_key(key_id, key)
        material = bytes(key)
        if key_id in ciphers:
            raise InvalidKeyConfig(f"secret key id {key_id!r} is used twice")
        if material in seen:
            raise InvalidKeyConfig(f"secret key {key_id!r} repeats another key")
        seen.add(material)
        ciphers[key_id] = AESGCM(material)
        hash_keys[key_id] = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=_HASH_KEY_INFO
        ).derive(material)
    return ciphers, tuple(ciphers), hash_keys


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _check_key(key_id: object, key: object) -> None:
    check_key_id(key_id)
    if not isinstance(key, bytes | bytearray):
        raise InvalidKeyConfig(f"secret key {key_id!r} must be bytes")
    if len(key) != KEY_BYTES:
        raise InvalidKeyConfig(
            f"secret key {key_id!r} must be {KEY_BYTES} bytes (AES-256), not {len(key)}"
        )


def load_keyring(secret_keys: str, key_file: Path) -> KeyRing:
    """The key ring from ``OTPGATE_SECRET_KEYS`` text, or else from *key_file*.

    With *secret_keys* empty, the key file is read; if it does not exist it is created
    (mode 0600, parent directory 0700 if new) holding one new key. A key file that group
    or others may read or write is refused with :class:`InvalidKeyConfig`.
    """
    if secret_keys.strip():
        return _ring(parse_keys(secret_keys, source="OTPGATE_SECRET_KEYS"), "OTPGATE_SECRET_KEYS")
    keys = read_key_file(key_file)
    if keys is None:
        write_new(key_file, [(new_key_id(()), new_key())], exclusive=True)
        keys = read_key_file(key_file)
        if keys is None:
            raise InvalidKeyConfig(f"key file {key_file} vanished after it was created")
    return _ring(keys, f"key file {key_file}", key_file=key_file)


def _ring(
    keys: Sequence[tuple[str, bytes]], source: str, *, key_file: Path | None = None
) -> KeyRing:
    try:
        return KeyRing(keys, key_file=key_file)
    except InvalidKeyConfig as exc:
        raise InvalidKeyConfig(f"{source}: {exc}") from None


def add_key_to_file(key_file: Path) -> str:
    """Put a new primary key at the top of *key_file*, keep the older ones; return its id.

    The file is replaced atomically with mode 0600. Re-sealing existing values under the
    new key is the service's job (``otpgate keys rotate``); drop an old key only after.
    """
    existing = read_key_file(key_file) or []
    key_id = new_key_id(tuple(kid for kid, _ in existing))
    keys = [(key_id, new_key()), *existing]
    _ring(keys, f"key file {key_file}")  # validate before writing anything
    write_new(key_file, keys, exclusive=False)
    return key_id
