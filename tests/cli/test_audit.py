"""``otpgate audit`` and the parsing of its time filters."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from db_support import Dump
from otpgate.cli._errors import CliError
from otpgate.cli._times import parse_time

from .conftest import PASSWORD, Run, one_line

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", NOW - timedelta(seconds=30)),
        ("2h", NOW - timedelta(hours=2)),
        ("7d", NOW - timedelta(days=7)),
        ("1w", NOW - timedelta(weeks=1)),
        ("2024-04-30", datetime(2024, 4, 30, tzinfo=UTC)),
        ("2024-04-30T10:00:00Z", datetime(2024, 4, 30, 10, tzinfo=UTC)),
        ("2024-04-30T12:00:00+02:00", datetime(2024, 4, 30, 10, tzinfo=UTC)),
        ("2024-04-30 10:00", datetime(2024, 4, 30, 10, tzinfo=UTC)),
    ],
)
def test_parse_time_accepts_iso_and_ages(text: str, expected: datetime) -> None:
    """ISO 8601 (UTC when no zone) and ages in s/m/h/d/w give aware UTC times."""
    parsed = parse_time(text, NOW, "--since")
    assert parsed == expected and parsed.tzinfo is not None


@pytest.mark.parametrize("text", ["", "yesterday", "2h ago", "-2h", "2y", "2024-13-01", "7d\x1b"])
def test_parse_time_refuses_anything_else(text: str) -> None:
    """Other text is a CliError naming the option, on one printable line."""
    with pytest.raises(CliError) as exc:
        parse_time(text, NOW, "--since")
    assert str(exc.value).startswith("--since: ")
    assert str(exc.value).isprintable()


def _history(run: Run) -> None:
    run("user", "add", "alice", "--admin", stdin=PASSWORD + "\n")
    run("user", "add", "bob", stdin=PASSWORD + "\n")
    run("2fa", "reset", "bob", "--note", "called back on the number on file")


def test_table_lists_events_newest_first(run: Run) -> None:
    """The table shows each event with its source and subject, newest first."""
    _history(run)
    result = run("audit")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].split()[:3] == ["TIME", "EVENT", "SOURCE"]
    assert [line.split()[3] for line in lines[1:]] == ["2fa.reset", "user.created", "user.created"]
    assert all(line.split()[4] == "cli" for line in lines[1:])
    assert "note=called back on the number on file" in lines[1]


def test_json_lines_with_filters(run: Run) -> None:
    """--json prints one object per line; --user, --kind, --since and --limit filter."""
    _history(run)
    everything = [json.loads(line) for line in run("audit", "--json").out.splitlines()]
    assert [e["kind"] for e in everything] == ["2fa.reset", "user.created", "user.created"]
    bob = [json.loads(x) for x in run("audit", "--json", "--user", "bob").out.splitlines()]
    assert [e["kind"] for e in bob] == ["2fa.reset", "user.created"]
    resets = run("audit", "--json", "--kind", "2fa.reset", "--since", "1h").out.splitlines()
    assert len(resets) == 1 and json.loads(resets[0])["source"] == "cli"
    assert len(run("audit", "--json", "--limit", "1").out.splitlines()) == 1
    assert run("audit", "--json", "--until", "1h").out == ""
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert run("audit", "--since", future).out.splitlines()[1:] == []


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["audit", "--since", "yesterday"], 2),
        (["audit", "--until", "soon"], 2),
        (["audit", "--since", "1h", "--until", "2h"], 2),
        (["audit", "--kind", "no.such.kind"], 2),
        (["audit", "--limit", "0"], 2),
        (["audit", "--user", "nobody"], 3),
        (["audit", "--json", "--user", "nobody"], 3),
    ],
)
def test_bad_filters_are_one_line_errors(
    run: Run, dump: Callable[[], Dump], argv: list[str], code: int
) -> None:
    """A bad filter exits with its code and one error line, and changes nothing."""
    _history(run)
    before = dump()
    result = run(*argv)
    assert result.code == code, result
    one_line(result.err)
    assert result.out == ""
    assert dump() == before
