"""How much the database grows per 100,000 code checks, and what the purge gives back.

Each check is a real one through the service (``login.verify_code``): the throttle read,
the secret opened, the HMAC, the conditional UPDATE of ``last_step`` and an audit row.
``--fail-every K`` makes every K-th check a wrong code (an audit row and throttle
counters too). Users take turns and a test clock moves 30 s per round, so every good
code is new. The size is measured before and after, with the growth extrapolated to
100,000 checks, then the retention purge runs (audit kept forever, as by default) and
the size is measured again.

SQLite: the file after a WAL checkpoint; PostgreSQL (``--pg URL`` of an empty database
made for this): ``pg_database_size`` after ``VACUUM``. The figures are
extrapolated from ``--checks`` (default 20,000) checks. Usage:
``python benchmarks/db_growth.py [--checks N] [--users U] [--fail-every K] [--pg URL]``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import secrets
import sqlite3
import tempfile
from pathlib import Path

from sqlalchemy import Engine, func, select, text

from otpgate.config import Settings
from otpgate.otp import Totp, b32decode
from otpgate.service import enrolment, login, retention, users
from otpgate.service.clock import FixedClock
from otpgate.service.context import Context, Origin, build_context
from otpgate.service.errors import CodeRejected, Locked
from otpgate.store.models import Base

T0 = 1_700_000_000
WEB = Origin(source="api", client_addr="192.0.2.10", user_agent="db-growth benchmark")
CLI = Origin(source="cli", user_agent="cli:benchmark")


def _settings(url: str, home: Path) -> Settings:
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    return Settings(home=home, database_url=url, secret_keys=f"k1:{key}",
                    argon2_time_cost=1, argon2_memory_kib=8, argon2_parallelism=1)


def _enrol(ctx: Context, n: int) -> list[tuple[int, Totp]]:
    people = []
    for i in range(n):
        user = users.create_user(ctx, CLI, f"user{i}", "correct horse battery staple")
        pending = enrolment.begin_enrolment(ctx, WEB, user.id, step_up_at=ctx.now_dt())
        totp = Totp(b32decode(pending.secret_b32))
        code = totp.generate_at(int(ctx.clock.now()))
        enrolment.confirm_enrolment(ctx, WEB, user.id, pending.credential_id, code, "phone")
        people.append((user.id, totp))
    return people


def _size(engine: Engine) -> int:
    if engine.dialect.name == "sqlite":
        path = Path(engine.url.database or "")
        engine.dispose()  # no pooled connection in a transaction: the checkpoint is full
        with contextlib.closing(sqlite3.connect(path)) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return path.stat().st_size
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM"))
        return int(conn.scalar(text("SELECT pg_database_size(current_database())")) or 0)


def _rows(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t.name: int(conn.scalar(select(func.count()).select_from(t)) or 0)
                for t in Base.metadata.sorted_tables}


def _check(ctx: Context, people: list[tuple[int, Totp]], checks: int, fail_every: int) -> int:
    clock = ctx.clock
    assert isinstance(clock, FixedClock)
    accepted = 0
    for i in range(checks):
        if i % len(people) == 0:
            clock.advance(30)
        user_id, totp = people[i % len(people)]
        code = totp.generate_at(int(clock.now()))
        if fail_every and i % fail_every == fail_every - 1:
            code = f"{(int(code) + 500_000) % 1_000_000:06d}"
        try:
            login.verify_code(ctx, WEB, user_id, code)
            accepted += 1
        except (CodeRejected, Locked):
            pass
    return accepted


def _report(label: str, engine: Engine, ctx: Context, args: argparse.Namespace) -> None:
    people = _enrol(ctx, args.users)
    before, rows_before = _size(engine), _rows(engine)
    accepted = _check(ctx, people, args.checks, args.fail_every)
    after, rows_after = _size(engine), _rows(engine)
    ctx.clock.advance(8 * 86400)  # type: ignore[attr-defined]
    purged = retention.purge(ctx, CLI)
    final = _size(engine)
    per_100k = (after - before) / args.checks * 100_000
    print(f"\n{label}: {args.checks} checks ({accepted} accepted), {args.users} users")
    print(f"  size before {before / 1e6:8.2f} MB   after {after / 1e6:8.2f} MB   "
          f"growth {(after - before) / args.checks:7.1f} bytes/check")
    print(f"  extrapolated growth per 100,000 checks: {per_100k / 1e6:.1f} MB")
    grown = {t: rows_after[t] - rows_before[t] for t in rows_after
             if rows_after[t] != rows_before[t]}
    print(f"  new rows: {grown}")
    print(f"  purge after 8 days: {purged}; size {final / 1e6:.2f} MB "
          "(the audit log is kept forever by default: it is the growth)")


def _run(label: str, url: str, home: Path, args: argparse.Namespace) -> None:
    ctx = build_context(_settings(url, home), clock=FixedClock(T0), migrate=True)
    engine = ctx.session_factory.kw["bind"]
    try:
        _report(label, engine, ctx, args)
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=20_000)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--fail-every", type=int, default=0,
                        help="make every K-th check a wrong code (0: all good)")
    parser.add_argument("--pg", help="URL of an empty PostgreSQL database to measure too "
                        "(e.g. after `createdb otpgate_growth`; drop it afterwards)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        _run("SQLite", f"sqlite:///{home / 'growth.db'}", home, args)
        if args.pg:
            _run("PostgreSQL", args.pg, home, args)


if __name__ == "__main__":
    main()
