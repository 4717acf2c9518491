"""Reading and writing key text: ``OTPGATE_SECRET_KEYS`` and the key file (private helpers).

Messages name the source and the entry number, never the key text.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import re
import secrets
import stat
from collections.abc import Collection, Sequence
from pathlib import Path

from otpgate.security.errors import InvalidKeyConfig

__all__ = ["check_key_id", "encode_key", "new_key_id", "parse_keys", "read_key_file", "write_new"]

# Fits the ``key_id`` column (32 characters) and the ``kid:key`` syntax.
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
# Thousands of keys; anything bigger is not a key file.
_MAX_FILE_BYTES = 1 << 20
_HEADER = (
    '# otpgate secret keys, one "id:base64url-key" per line; the first one is the primary.\n'
    "# Keep this file private (mode 0600) and backed up: without it no secret can be read.\n"
)


def check_key_id(key_id: object) -> None:
    """Raise InvalidKeyConfig unless *key_id* is 1-32 letters, digits, '-' or '_'."""
    if not isinstance(key_id, str) or _KEY_ID.fullmatch(key_id) is None:
        shown = repr(key_id)[:40]
        raise InvalidKeyConfig(f"key id {shown} must be 1-32 letters, digits, '-' or '_'")


def encode_key(key: bytes) -> str:
    """Base64url of *key* without padding, as written in the key file."""
    return base64.urlsafe_b64encode(key).decode("ascii").rstrip("=")


def _decode_key(text: str, where: str) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    try:
        return base64.b64decode(padded, altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise InvalidKeyConfig(f"{where}: the key is not valid base64url") from None


def parse_keys(text: str, *, source: str) -> list[tuple[str, bytes]]:
    """``kid:key`` entries separated by commas or lines; '#' starts a comment line."""
    keys: list[tuple[str, bytes]] = []
    lines = (line for line in text.splitlines() if not line.lstrip().startswith("#"))
    entries = [e.strip() for line in lines for e in line.split(",") if e.strip()]
    for number, entry in enumerate(entries, start=1):
        where = f"{source}, entry {number}"
        key_id, sep, encoded = entry.partition(":")
        if not sep:
            raise InvalidKeyConfig(f"{where}: expected 'id:base64url-key'")
        key_id = key_id.strip()
        try:
            check_key_id(key_id)
        except InvalidKeyConfig as exc:
            raise InvalidKeyConfig(f"{where}: {exc}") from None
        keys.append((key_id, _decode_key(encoded.strip(), where)))
    if not keys:
        raise InvalidKeyConfig(f"{source} holds no key")
    return keys


def new_key_id(existing: Collection[str]) -> str:
    """A fresh random key id not in *existing*."""
    while True:
        key_id = "k" + secrets.token_hex(4)
        if key_id not in existing:
            return key_id


def read_key_file(path: Path) -> list[tuple[str, bytes]] | None:
    """The keys in *path*, or None if it does not exist; refuse it if others may read it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InvalidKeyConfig(f"cannot read key file {path}: {exc.strerror}") from None
    try:
        raw = _read_private(fd, path)
    finally:
        os.close(fd)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidKeyConfig(f"key file {path} is not UTF-8 text") from None
    return parse_keys(text, source=f"key file {path}")


def _read_private(fd: int, path: Path) -> bytes:
    # fstat on the open descriptor: the file checked is the file read.
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise InvalidKeyConfig(f"key file {path} is not a regular file")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise InvalidKeyConfig(
            f"key file {path} is accessible by group or others (mode {mode:04o}); "
            f"run: chmod 600 {path}"
        )
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
        if sum(map(len, chunks)) > _MAX_FILE_BYTES:
            raise InvalidKeyConfig(f"key file {path} is too large to be a key file")
    return b"".join(chunks)


def write_new(path: Path, keys: Sequence[tuple[str, bytes]], *, exclusive: bool) -> None:
    """Write *keys* to *path* with mode 0600, atomically.

    ``exclusive=True`` never replaces an existing file: if another process created it
    first, theirs is kept (both then read the same keys).
    """
    content = _HEADER + "".join(f"{kid}:{encode_key(key)}\n" for kid, key in keys)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.fchmod(fd, 0o600)  # whatever the umask was
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            if exclusive:
                # A hard link creates the name only if it is free, with the full content.
                with contextlib.suppress(FileExistsError):
                    os.link(tmp, path)
            else:
                os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    except OSError as exc:
        raise InvalidKeyConfig(f"cannot write key file {path}: {exc.strerror}") from None
