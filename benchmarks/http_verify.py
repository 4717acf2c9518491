"""Load on the JSON API's code check, against a real ``otpgate serve`` on 127.0.0.1.

For each database (SQLite file, PostgreSQL database created and dropped here), each number
of server workers and each number of concurrent keep-alive clients, two cases run for a
bounded time:

* ``correct``: every request carries a fresh, correct code, so every answer should be 200
  and each one goes through the whole success path (token check, throttle counters,
  secret decryption, HMAC, the conditional UPDATE of the credential's last step, an audit
  row). A time-based code can be accepted once per 30 s step per user, which a load test
  would exhaust at once; so these users have counter-based (HOTP) authenticators and each
  request sends the user's next counter value. HOTP and TOTP share the same verification
  path; only how the step is found differs (a look-ahead instead of a time window).
  Each client owns its own users, so no two requests race on one credential.
* ``wrong``: well-formed wrong codes spread over other users. After a few failures a user
  is locked (the throttle's job), so this case measures a mix of 401 (wrong) and 423
  (locked) answers; the table shows the split. Those users are unlocked before each case.

Passwords are not in the measured path (``/api/v1/verify`` without ``password``), so users
are created with a cheap argon2 profile. The load generator is a small asyncio HTTP/1.1
keep-alive client: it shares the machine's cores with the server, so it has to be cheap.

Usage: ``python benchmarks/http_verify.py [--seconds 20] [--clients 16,64] [--workers 1,2]
[--databases sqlite,postgres]``. Prints one table; never fails on slow results.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyotp
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from otpgate.config import Settings
from otpgate.service import admin, api_tokens, enrolment, users
from otpgate.service.context import Context, Origin, build_context

PG_ADMIN_URL = os.environ.get(
    "OTPGATE_BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
OPERATOR = Origin("cli", user_agent="cli:benchmark")
PATH = "/api/v1/verify"


@dataclass
class BenchUser:
    name: str
    secret: str
    next_counter: int = 1
    wrong_code: str = ""

    def take_code(self) -> str:
        code = str(pyotp.HOTP(self.secret).at(self.next_counter))
        self.next_counter += 1
        return code


@dataclass
class Result:
    database: str
    workers: int
    clients: int
    case: str
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: int = 0

    def row(self) -> list[str]:
        n = len(self.latencies)
        lat = sorted(self.latencies)

        def pct(p: float) -> str:
            return f"{lat[min(n - 1, int(p * n))] * 1000:.1f}" if n else "-"

        expected = {200} if self.case == "correct" else {401, 423}
        unexpected = sum(c for s, c in self.statuses.items() if s not in expected)
        split = " ".join(f"{s}:{c}" for s, c in sorted(self.statuses.items()))
        return [
            self.database, str(self.workers), str(self.clients), self.case, str(n),
            f"{n / self.seconds:.0f}" if self.seconds else "-", pct(0.50), pct(0.99),
            str(self.errors + unexpected), split,
        ]


# -- a minimal HTTP/1.1 keep-alive client ---------------------------------------------------


class Connection:
    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port = host, port
        self.head = (
            f"POST {PATH} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\nUser-Agent: otpgate-bench\r\n"
        ).encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, payload: dict[str, str]) -> int:
        if self.reader is None or self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        body = json.dumps(payload).encode()
        self.writer.write(self.head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _client(conn: Connection, mine: list[BenchUser], case: str, deadline: float,
                  result: Result) -> None:
    i = 0
    while time.perf_counter() < deadline:
        user = mine[i % len(mine)]
        i += 1
        code = user.take_code() if case == "correct" else user.wrong_code
        start = time.perf_counter()
        try:
            status = await conn.post({"username": user.name, "code": code})
        except (OSError, asyncio.IncompleteReadError, ValueError):
            result.errors += 1
            conn.close()
            continue
        result.latencies.append(time.perf_counter() - start)
        result.statuses[status] += 1


async def _load(port: int, token: str, pool: list[BenchUser], clients: int, case: str,
                seconds: float, result: Result) -> None:
    conns = [Connection("127.0.0.1", port, token) for _ in range(clients)]
    start = time.perf_counter()
    deadline = start + seconds
    await asyncio.gather(*(
        _client(conns[c], pool[c::clients], case, deadline, result) for c in range(clients)
    ))
    result.seconds = time.perf_counter() - start
    for conn in conns:
        conn.close()


# -- database, users, server ----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wrong_for(secret: str, counter: int, look_ahead: int) -> str:
    hotp = pyotp.HOTP(secret)
    taken = {hotp.at(c) for c in range(counter, counter + look_ahead + 2)}
    candidate = secrets.randbelow(1_000_000)
    while f"{candidate:06d}" in taken:
        candidate = (candidate + 1) % 1_000_000
    return f"{candidate:06d}"


def _seed(ctx: Context, prefix: str, count: int) -> list[BenchUser]:
    made = []
    for i in range(count):
        user = users.create_user(ctx, OPERATOR, f"{prefix}{i:05d}", "benchmark-password-1")
        pending = enrolment.begin_enrolment(
            ctx, OPERATOR, user.id, step_up_at=ctx.now_dt(), kind="hotp", name="bench"
        )
        enrolment.confirm_enrolment(
            ctx, OPERATOR, user.id, pending.credential_id,
            str(pyotp.HOTP(pending.secret_b32).at(0)), "bench",
        )
        made.append(BenchUser(user.username, pending.secret_b32))
    for u in made:
        u.wrong_code = _wrong_for(u.secret, u.next_counter, ctx.settings.hotp_look_ahead)
    return made


def _unlock(ctx: Context, pool: list[BenchUser]) -> None:
    for u in pool:
        admin.unlock_user(ctx, OPERATOR, None, users.find_user(ctx, u.name).id)


class Server:
    """``otpgate serve`` in its own process group, stopped with SIGTERM."""

    def __init__(self, env: dict[str, str], workers: int, log: Path) -> None:
        self.port = _free_port()
        self.log = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "otpgate", "serve", "--host", "127.0.0.1",
             "--port", str(self.port), "--workers", str(workers)],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = log.read_text(errors="replace").strip().splitlines()[-5:]
                raise RuntimeError(
                    f"otpgate serve exited with {self.proc.returncode}: " + " / ".join(tail)
                )
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.port}/openapi.json", timeout=2
                ) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"otpgate serve did not answer within 60 s; see {log}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def _pg_database() -> tuple[str, str]:
    name = f"otpgate_bench_{secrets.token_hex(4)}"
    admin_engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin_engine.dispose()
    return name, make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def _drop_pg(name: str) -> None:
    admin_engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin_engine.dispose()


def run_database(database: str, args: argparse.Namespace, home: Path) -> list[Result]:
    pg_name = ""
    url = ""
    if database == "postgres":
        pg_name, url = _pg_database()
    try:
        key = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
        env = {
            **os.environ,
            "OTPGATE_HOME": str(home),
            "OTPGATE_DATABASE_URL": url,
            "OTPGATE_SECRET_KEYS": f"bench:{key}",
            "OTPGATE_ARGON2_TIME_COST": "1",
            "OTPGATE_ARGON2_MEMORY_KIB": "8",
            "OTPGATE_ARGON2_PARALLELISM": "1",
        }
        settings = Settings.from_env(env)
        ctx = build_context(settings, migrate=True)
        most = max(args.clients)
        print(f"[{database}] creating {most * 2} + {most * 4} users ...", file=sys.stderr)
        good = _seed(ctx, "ok", most * 2)
        bad = _seed(ctx, "bad", most * 4)
        token = api_tokens.create_api_token(ctx, OPERATOR, None, "benchmark", {"verify"})
        results = []
        for workers in args.workers:
            server = Server(env, workers, home / "serve.log")
            try:
                for clients in args.clients:
                    for case in ("correct", "wrong"):
                        if case == "wrong":
                            _unlock(ctx, bad)
                        result = Result(database, workers, clients, case)
                        pool = good if case == "correct" else bad
                        print(f"[{database}] workers={workers} clients={clients} {case} ...",
                              file=sys.stderr)
                        asyncio.run(_load(server.port, token, pool, clients, case,
                                          args.seconds, result))
                        results.append(result)
            finally:
                server.stop()
        return results
    finally:
        if pg_name:
            _drop_pg(pg_name)


HEADERS = ["database", "workers", "clients", "codes", "requests", "req/s", "p50 ms", "p99 ms",
           "errors", "statuses"]


def print_table(results: list[Result]) -> None:
    rows = [HEADERS, *(r.row() for r in results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS))]
    for n, row in enumerate(rows):
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if n == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


def _ints(text_value: str) -> list[int]:
    return [int(x) for x in text_value.split(",") if x]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each case")
    parser.add_argument("--clients", type=_ints, default=[16, 64])
    parser.add_argument("--workers", type=_ints, default=[1, 2])
    parser.add_argument("--databases", default="sqlite,postgres")
    args = parser.parse_args(argv)
    results: list[Result] = []
    for database in args.databases.split(","):
        with tempfile.TemporaryDirectory(prefix="otpgate-bench-") as tmp:
            results += run_database(database, args, Path(tmp))
    print(f"\nPOST {PATH}, {args.seconds:g} s per case, {os.cpu_count()} CPUs "
          "(load generator on the same machine)\n")
    print_table(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
