"""Request paths as the sites file's path rules read them: every spelling an upstream may see.

nginx chooses a location from the decoded path with ``//`` merged and dot segments
resolved, but the application behind it may read the same bytes otherwise: Tomcat and
Jetty drop ``;params`` from each segment (``/admin;x`` and ``/public/..;/admin`` are
``/admin`` to them), IIS and many frameworks ignore case (``/ADMIN``), some decode
percent-escapes twice (``%252e``) and some not at all. A path rule must hold whichever
reading the upstream makes, so :func:`path_spellings` gives them all, and the caller makes
the request satisfy every site they select. A path that one of the readings cannot make
sense of (an escape that is not UTF-8, a climb above the root, a control character or a
backslash) has no spellings: it is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

__all__ = ["MAX_PATH_CHARS", "Spelling", "normalise_path", "path_spellings"]

MAX_PATH_CHARS = 8192


@dataclass(frozen=True, order=True)
class Spelling:
    """One reading of a path; ``folded`` ones are lower case and match prefixes so."""

    path: str
    folded: bool = False


def _decoded(text: str) -> str | None:
    try:
        return unquote(text, errors="strict")
    except UnicodeDecodeError:
        return None


def _sane(text: str) -> bool:
    return not any(ord(c) < 0x20 or c in "\x7f\\" for c in text)


def _resolve(path: str, *, drop_params: bool) -> str | None:
    # Segments: empty and "." vanish, ".." climbs (never above the root).
    parts: list[str] = []
    segments = path.split("/")[1:]
    if drop_params:
        segments = [segment.split(";", 1)[0] for segment in segments]
    for segment in segments:
        if segment in ("", "."):
            continue
        if segment == "..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(segment)
    trailing = "/" if segments and segments[-1] in ("", ".", "..") and parts else ""
    return "/" + "/".join(parts) + trailing


def _readings(raw: object) -> list[str] | None:
    # The path undecoded, decoded once and, when escapes remain, decoded twice.
    if not isinstance(raw, str) or not raw.startswith("/") or len(raw) > MAX_PATH_CHARS:
        return None
    undecoded = raw.split("?", 1)[0].split("#", 1)[0]
    readings = [undecoded]
    while "%" in readings[-1] and len(readings) < 3:
        decoded = _decoded(readings[-1])
        if decoded is None:
            return None
        readings.append(decoded)
    return readings if all(_sane(text) for text in readings) else None


def normalise_path(raw: object) -> str | None:
    """The path of a request target as nginx routes it, or None if it is not sane.

    Query and fragment are cut, percent-escapes decoded, repeated slashes merged and
    ``.``/``..`` segments resolved, so ``/public/../admin`` is judged as ``/admin``.
    """
    readings = _readings(raw)
    if readings is None:
        return None
    return _resolve(readings[min(1, len(readings) - 1)], drop_params=False)


def path_spellings(raw: object) -> tuple[Spelling, ...] | None:
    """Every reading of ``raw``, :func:`normalise_path`'s first; None if one fails.

    Readings: undecoded, decoded once, decoded twice; each with and without the
    ``;params`` of its segments; each of these as is and lower case.
    """
    first = normalise_path(raw)
    readings = _readings(raw)
    if first is None or readings is None:
        return None
    found = [Spelling(first)]
    for text in readings:
        for drop_params in (False, True):
            path = _resolve(text, drop_params=drop_params)
            if path is None:
                return None
            found += [Spelling(path), Spelling(path.lower(), folded=True)]
    return tuple(dict.fromkeys(found))
