"""Files only the owner may open: the data directory, the SQLite database, the key file.

A database dump holds password hashes, e-mail addresses and the audit log; the key file
opens every secret. Whatever the umask, otpgate creates them readable by their owner
only (directories 0700, files 0600), and refuses to start on one that group or others
may open, with the ``chmod`` that fixes it.
"""

from __future__ import annotations

import os
import shlex
import stat
from collections.abc import Sequence
from pathlib import Path

from otpgate.security.errors import UnsafeFileMode

__all__ = [
    "PRIVATE_DIR_MODE",
    "PRIVATE_FILE_MODE",
    "check_private",
    "create_private_file",
    "private_dir",
    "refuse_shared",
]

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
_GROUP_OR_OTHERS = 0o077


def refuse_shared(what: str, paths_and_modes: Sequence[tuple[Path, int]], fix: int) -> None:
    """Raise :class:`UnsafeFileMode` if any of the (path, mode) pairs lets group or others
    in; the one-line message names the first and gives the ``chmod`` for all of them."""
    shared = [(path, mode) for path, mode in paths_and_modes if mode & _GROUP_OR_OTHERS]
    if not shared:
        return
    first, mode = shared[0]
    targets = " ".join(shlex.quote(str(path)) for path, _ in shared)
    raise UnsafeFileMode(
        f"{what} {first} is accessible by group or others (mode {stat.S_IMODE(mode):04o}); "
        f"run: chmod {fix:o} {targets}"
    )


def check_private(what: str, paths: Sequence[Path], fix: int) -> None:
    """:func:`refuse_shared` for those of ``paths`` that exist."""
    found = []
    for path in paths:
        try:
            found.append((path, path.stat().st_mode))
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise UnsafeFileMode(f"cannot inspect {what} {path}: {exc.strerror}") from None
    refuse_shared(what, found, fix)


def private_dir(path: Path, what: str = "data directory") -> None:
    """Create ``path`` with mode 0700 (parents as needed), or refuse an existing one that
    group or others may enter. A directory that cannot be created raises :class:`OSError`."""
    try:
        path.mkdir(mode=PRIVATE_DIR_MODE, parents=True)
    except FileExistsError:
        check_private(what, [path], PRIVATE_DIR_MODE)


def create_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists (then it is left as it is).
    A file that cannot be created raises :class:`OSError`."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        return
    os.close(fd)
