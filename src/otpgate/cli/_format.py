"""Plain-text rendering shared by the commands: times, yes/no, aligned tables."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

__all__ = ["clean", "table", "to_json", "when", "yes_no"]


def when(value: datetime | None, empty: str = "-") -> str:
    """A stored time as ``YYYY-MM-DD HH:MM:SS UTC`` (``empty`` for None)."""
    if value is None:
        return empty
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def clean(text: str) -> str:
    """Text safe to print on a terminal: control characters become ``?``.

    Names and audit details come from users; an escape sequence in a display name must
    not reach the operator's terminal.
    """
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell; the last column is not padded."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(clean(cell)))
    lines = []
    for raw in (headers, *rows):
        row = [clean(cell) for cell in raw]
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)


def to_json(value: Any) -> str:
    """Indented JSON; times as ISO 8601 with their zone."""
    return json.dumps(value, ensure_ascii=False, indent=2, default=_json_default)


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
