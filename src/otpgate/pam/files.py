"""The two files an operator gives the PAM module: OTPGATE_* settings and a user map.

Both decide who gets in, and the helper runs as root, so both are refused when someone
other than root (or the running user) could have written them.

* Settings file (``config=``): ``OTPGATE_NAME=value`` lines, ``#`` comments and blank
  lines; a value may be wrapped in matching single or double quotes. The same file can be
  a systemd ``EnvironmentFile=`` for ``otpgate serve``.
* User map (``map=``): ``system-user otpgate-user`` lines and ``#`` comments. A system user
  not listed keeps their own name.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from otpgate.pam.errors import FileRefused

__all__ = ["MAX_FILE_BYTES", "map_user", "read_settings_file", "read_user_map"]

MAX_FILE_BYTES = 64 * 1024
_SETTING = re.compile(r"(OTPGATE_[A-Z0-9_]+)=(.*)")
_NAME = re.compile(r"[^\s#]{1,150}")


def _read_safely(path: Path) -> list[str]:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise FileRefused(f"{path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(f"{path}: not a regular file")
        if info.st_uid not in {0, os.geteuid()} or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise FileRefused(f"{path}: must be owned by root and writable only by its owner")
        raw = handle.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise FileRefused(f"{path}: larger than {MAX_FILE_BYTES} bytes")
    try:
        return raw.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise FileRefused(f"{path}: not UTF-8 text") from None


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def read_settings_file(path: Path) -> dict[str, str]:
    """The ``OTPGATE_*`` variables of a settings file; :class:`FileRefused` on any bad line."""
    values: dict[str, str] = {}
    for number, line in enumerate(_read_safely(path), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        found = _SETTING.fullmatch(text.removeprefix("export ").strip())
        if found is None:
            raise FileRefused(f"{path}, line {number}: expected OTPGATE_NAME=value")
        values[found.group(1)] = _unquote(found.group(2))
    return values


def read_user_map(path: Path) -> dict[str, str]:
    """System user → otpgate user; :class:`FileRefused` on a bad or repeated line."""
    mapping: dict[str, str] = {}
    for number, line in enumerate(_read_safely(path), start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        words = text.split()
        if len(words) != 2 or not all(_NAME.fullmatch(w) for w in words):
            raise FileRefused(f"{path}, line {number}: expected 'system-user otpgate-user'")
        if words[0] in mapping:
            raise FileRefused(f"{path}, line {number}: {words[0]} is mapped twice")
        mapping[words[0]] = words[1]
    return mapping


def map_user(system_user: str, mapping: dict[str, str] | None) -> str:
    """The otpgate user name of a system user: the map's entry, else the same name."""
    if mapping is None:
        return system_user
    return mapping.get(system_user, system_user)
