"""``otpgate audit``: the security events, filtered; as a table or as JSON lines."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from otpgate.cli._context import operator_context
from otpgate.cli._errors import EXIT_BAD_INPUT, CliError
from otpgate.cli._format import clean, table, when
from otpgate.cli._times import parse_time

__all__ = ["register"]

_DEFAULT_LIMIT = 100


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``otpgate audit``."""
    audit = subparsers.add_parser(
        "audit",
        help="show the audit log (newest first)",
        description="Security events, newest first. T is an ISO 8601 time "
        "(2024-05-01, 2024-05-01T12:00:00+02:00; UTC when no zone is given) or an age "
        "counted back from now: 30m, 2h, 7d, 2w.",
    )
    audit.add_argument("--user", help="events about this user")
    audit.add_argument("--kind", help="one event kind, e.g. 2fa.reset or login.code_failed")
    audit.add_argument("--since", metavar="T", help="events at or after T")
    audit.add_argument("--until", metavar="T", help="events before T")
    audit.add_argument(
        "--limit",
        type=int,
        default=None,
        help=f"at most N events (default {_DEFAULT_LIMIT}; with --json: all)",
        metavar="N",
    )
    audit.add_argument("--json", action="store_true", help="one JSON object per line")
    audit.set_defaults(handler=_audit)


def _audit(args: argparse.Namespace) -> int:
    from otpgate.service import audit

    # Parse every filter before touching the database: a bad one changes nothing.
    now = datetime.now(UTC)
    since = parse_time(args.since, now, "--since") if args.since is not None else None
    until = parse_time(args.until, now, "--until") if args.until is not None else None
    if since is not None and until is not None and since >= until:
        raise CliError("--since must be before --until", EXIT_BAD_INPUT)
    filters = {"username": args.user, "kind": args.kind, "since": since, "until": until}
    with operator_context() as ctx:
        if args.json and args.limit is None:
            # The export pages through the log, so a large log is not held in memory.
            for line in audit.export_audit_jsonl(ctx, **filters):
                sys.stdout.write(line)
            return 0
        limit = _DEFAULT_LIMIT if args.limit is None else args.limit
        events = audit.query_audit(ctx, limit=limit, **filters)
    if args.json:
        for event in events:
            print(event.to_json())
        return 0
    rows = [
        [when(e.at), e.kind, e.source, e.actor_name or e.user_agent or "-",
         e.subject_name or "-", e.client_addr or "-", _detail(e.detail)]
        for e in events
    ]
    print(table(["TIME", "EVENT", "SOURCE", "ACTOR", "SUBJECT", "ADDRESS", "DETAIL"], rows))
    return 0


def _detail(detail: dict[str, object]) -> str:
    return clean(" ".join(f"{key}={_value(value)}" for key, value in sorted(detail.items())))


def _value(value: object) -> str:
    if isinstance(value, list | tuple):
        return ",".join(str(item) for item in value)
    if isinstance(value, dict):
        return ",".join(f"{k}:{v}" for k, v in sorted(value.items()))
    return str(value)
