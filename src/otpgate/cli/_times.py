"""Parsing the operator's ``--since``/``--until``: ISO 8601 or a relative age like ``2h``."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from otpgate.cli._errors import EXIT_BAD_INPUT, CliError

__all__ = ["parse_time"]

_RELATIVE = re.compile(r"(\d{1,6})([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_time(text: str, now: datetime, option: str) -> datetime:
    """An aware UTC datetime from ``2024-05-01``, ``2024-05-01T12:00:00+02:00`` or ``7d``.

    A relative value counts back from ``now``. An ISO time without a zone is read as UTC
    (the zone the audit log is shown in). Anything else is a :class:`CliError` naming
    ``option``.
    """
    value = text.strip()
    match = _RELATIVE.fullmatch(value)
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        return now - timedelta(seconds=amount * _UNIT_SECONDS[unit])
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise CliError(
            f"{option}: {clean_arg(text)!r} is neither an ISO 8601 time "
            "(2024-05-01T12:00:00Z) nor an age like 30m, 2h, 7d",
            EXIT_BAD_INPUT,
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def clean_arg(text: str) -> str:
    # Echo at most a short, printable prefix of a bad argument in the error line.
    return "".join(ch if ch.isprintable() else "?" for ch in text[:40])
