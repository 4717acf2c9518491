"""Request ids: the caller's ``X-Request-ID`` when it is sane, else a new one.

A proxy or client may send ``X-Request-ID`` to follow a request through its own logs and
ours. It goes into log lines and back into the response, so only 1 to 128 characters of
``A-Z a-z 0-9 . _ : -`` are accepted; anything else (too long, spaces, quotes, control or
non-ASCII characters) is replaced by a new random id, as is a missing header.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable

__all__ = ["HEADER", "new_request_id", "request_id_from"]

HEADER = b"x-request-id"
_VALID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
# Seeded from the system at start, separately in each worker process.
_random = random.Random()  # noqa: S311 - an id, not a secret (see new_request_id)


def new_request_id() -> str:
    """A new id: 32 hex digits (128 random bits). An id names a request in logs, it
    grants nothing, so Python's fast generator will do (no system call per request)."""
    return f"{_random.getrandbits(128):032x}"


def request_id_from(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The first ``X-Request-ID`` of raw ASGI ``headers`` if valid, else a new id."""
    for name, value in headers:
        if name == HEADER:
            return value.decode("ascii") if _VALID.fullmatch(value) else new_request_id()
    return new_request_id()
