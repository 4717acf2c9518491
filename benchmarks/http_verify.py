"""Load on the JSON API's code check: a real ``otpgate serve`` beside the practical floor
(``floor_server.py``: raw ASGI, psycopg, the same SQL guarantees), driven by ``wrk``.

For each database (SQLite file; PostgreSQL, a database created and dropped here), each
server (otpgate; on PostgreSQL also the floor, on the same rows), each number of
connections, two cases run for a bounded time:

* ``correct``: every request carries a distinct, correct HOTP code (the users' next
  counters, read from the database before each run), so each is an accepted check: lock,
  throttle, decryption, HMAC, the conditional UPDATE of the last counter, an audit row,
  a durable commit. Each wrk thread cycles over its own 256 users, so a user's next code
  is sent only long after the previous one was answered.
* ``wrong``: well-formed wrong codes spread over many users, at most 3 per user, so each
  answer is a counted failure (401) with its audit row, not a cheaper lock (423). The
  throttle counters are cleared before each run.

CPU per check is the server processes' CPU time (``/proc``) and that of the PostgreSQL
backends serving the benchmark's database, divided by the requests answered.

Usage: ``python benchmarks/http_verify.py [--seconds 10] [--rounds 3] [--connections 16,64]
[--workers 2] [--databases sqlite,postgres]``. Needs ``wrk`` (Debian package ``wrk``).
Prints one table and the otpgate/floor ratios; never fails on slow results.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, create_engine, delete, insert, select, text
from sqlalchemy.engine import make_url

from otpgate.config import Settings
from otpgate.otp import Hotp
from otpgate.otp.secrets import b32decode
from otpgate.service import api_tokens, enrolment, users
from otpgate.service.context import Context, Origin, build_context
from otpgate.service.verification import secret_context
from otpgate.store.models import OtpCredential, Throttle, User

PG_ADMIN_URL = os.environ.get(
    "OTPGATE_BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
OPERATOR = Origin("cli", user_agent="cli:benchmark")
PATH = "/api/v1/verify"
THREADS = 2  # wrk threads; each cycles over its own users
USERS_PER_THREAD = 256
MAX_RATE_PER_THREAD = 4000  # requests prepared per thread and second of a run
WRONG_PER_USER = 3
HERE = Path(__file__).parent
CLK_TCK = os.sysconf("SC_CLK_TCK")

_LUA = r"""
local threads, lines, n = {}, {}, 0
local next_id = 1
counts = {}  -- a global: done() reads each thread's copy with thread:get
function setup(thread)
  thread:set("id", next_id); next_id = next_id + 1
  table.insert(threads, thread)
end
function init(args)
  local headers = {["Authorization"] = "Bearer " .. args[2],
                   ["Content-Type"] = "application/json", ["User-Agent"] = "wrk-bench"}
  for line in io.lines(args[1] .. "." .. id) do
    local user, code = line:match("(%S+) (%S+)")
    table.insert(lines, wrk.format("POST", args[3], headers,
      '{"username":"' .. user .. '","code":"' .. code .. '"}'))
  end
end
function request()
  n = n + 1
  if n > #lines then n = 1 end
  return lines[n]
end
function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end
function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("counts")) do
      io.write(string.format("STATUS %d %d\n", status, count))
    end
  end
  io.write(string.format("P50 %f\nP99 %f\n", latency:percentile(50) / 1000,
                         latency:percentile(99) / 1000))
end
"""


@dataclass
class Result:
    database: str
    server: str
    connections: int
    case: str
    round: int = 1
    seconds: float = 0.0
    requests: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    p50: float = 0.0
    p99: float = 0.0
    server_cpu: float = 0.0
    db_cpu: float | None = None

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def row(self) -> list[str]:
        per = max(self.requests, 1)
        split = " ".join(f"{s}:{c}" for s, c in sorted(self.statuses.items()))
        db = "-" if self.db_cpu is None else f"{self.db_cpu / per * 1000:.2f}"
        return [
            self.database, self.server, str(self.connections), self.case, str(self.round),
            str(self.requests),
            f"{self.rate:.0f}", f"{self.p50:.1f}", f"{self.p99:.1f}",
            f"{self.server_cpu / per * 1000:.2f}", db, split,
        ]


# -- users, codes ---------------------------------------------------------------------------


def _seed_good(ctx: Context, count: int) -> list[tuple[str, str]]:
    """Users with a confirmed HOTP authenticator, made through the service; (name, secret)."""
    made = []
    for i in range(count):
        user = users.create_user(ctx, OPERATOR, f"ok{i:05d}", "benchmark-password-1")
        pending = enrolment.begin_enrolment(
            ctx, OPERATOR, user.id, step_up_at=ctx.now_dt(), kind="hotp", name="bench"
        )
        enrolment.confirm_enrolment(
            ctx, OPERATOR, user.id, pending.credential_id,
            Hotp(b32decode(pending.secret_b32)).generate(0), "bench",
        )
        made.append((user.username, pending.secret_b32))
    return made


def _seed_wrong(ctx: Context, engine: Engine, count: int) -> list[str]:
    """Many users for wrong codes, inserted in bulk (the service would take minutes)."""
    now = datetime.now(UTC)
    password_hash = ctx.hasher.hash("benchmark-password-1")
    names = [f"bad{i:06d}" for i in range(count)]
    with engine.begin() as conn:
        conn.execute(insert(User), [
            {"username": n, "password_hash": password_hash, "created_at": now,
             "password_changed_at": now} for n in names
        ])
        ids = conn.execute(select(User.id).where(User.username.like("bad%"))).scalars().all()
        rows = []
        for user_id in ids:
            key_id, sealed = ctx.keyring.seal(os.urandom(20), context=secret_context(user_id))
            rows.append({"user_id": user_id, "kind": "hotp", "status": "active", "name": "bench",
                         "secret_sealed": sealed, "key_id": key_id, "last_step": 0,
                         "created_at": now, "confirmed_at": now})
        conn.execute(insert(OtpCredential), rows)
    return names


def _next_counters(engine: Engine) -> dict[str, int]:
    query = (select(User.username, OtpCredential.last_step)
             .join(OtpCredential, OtpCredential.user_id == User.id)
             .where(User.username.like("ok%")))
    with engine.connect() as conn:
        return {name: last + 1 for name, last in conn.execute(query)}


def _write_correct(base: Path, good: list[tuple[str, str]], engine: Engine, lines: int) -> None:
    counters = _next_counters(engine)
    for t in range(THREADS):
        mine = good[t::THREADS]
        hotps = [(name, Hotp(b32decode(secret)), counters[name]) for name, secret in mine]
        with (base.parent / f"{base.name}.{t + 1}").open("w") as out:
            for i in range(lines):
                name, hotp, first = hotps[i % len(hotps)]
                out.write(f"{name} {hotp.generate(first + i // len(hotps))}\n")


def _write_wrong(base: Path, bad: list[str], engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(delete(Throttle))
    for t in range(THREADS):
        mine = bad[t::THREADS]
        with (base.parent / f"{base.name}.{t + 1}").open("w") as out:
            for i in range(len(mine) * WRONG_PER_USER):
                # 6 digits, wrong for a random 160-bit secret but at odds of ~1e-5.
                out.write(f"{mine[i % len(mine)]} {secrets.randbelow(1_000_000):06d}\n")


# -- processes and their CPU ----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_by_pid(pids: list[int]) -> dict[int, float]:
    seconds = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        seconds[pid] = (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime
    return seconds


def _cpu_since(before: dict[int, float], now: dict[int, float]) -> float:
    """CPU seconds used since ``before`` (processes started since count whole)."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in now.items())


def _group_pids(pgid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid:
                pids.append(int(entry.name))
    return pids


class Server:
    """A server in its own process group, stopped with SIGTERM."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path, probe: str) -> None:
        self.port = _free_port()
        self.log = log.open("ab")
        self.proc = subprocess.Popen(
            [*argv, "--host", "127.0.0.1", "--port", str(self.port)],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = log.read_text(errors="replace").strip().splitlines()[-5:]
                raise RuntimeError(f"{argv[1:3]} exited: " + " / ".join(tail))
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}{probe}", timeout=2)
                return
            except urllib.error.HTTPError:
                return  # answering, with an error status: up
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{argv[1:3]} did not answer within 60 s; see {log}")

    def cpu(self) -> dict[int, float]:
        return _cpu_by_pid(_group_pids(self.proc.pid))

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def _backend_pids(engine: Engine) -> list[int]:
    if engine.dialect.name != "postgresql":
        return []
    with engine.connect() as conn:
        return list(conn.execute(text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )).scalars())


def _wrk(port: int, connections: int, seconds: float, base: Path, token: str,
         result: Result) -> None:
    script = base.parent / "bench.lua"
    script.write_text(_LUA)
    wrk = shutil.which("wrk")
    assert wrk is not None
    start = time.perf_counter()
    out = subprocess.run(
        [wrk, f"-t{THREADS}", f"-c{connections}", f"-d{seconds:g}s", "-s", str(script),
         f"http://127.0.0.1:{port}", "--", str(base), token, PATH],
        capture_output=True, text=True, timeout=seconds + 60, check=False,
    ).stdout
    result.seconds = float(m.group(1)) if (m := re.search(r"in ([\d.]+)s,", out)) else (
        time.perf_counter() - start)
    for status, count in re.findall(r"^STATUS (\d+) (\d+)$", out, re.M):
        result.statuses[int(status)] = result.statuses.get(int(status), 0) + int(count)
    result.requests = sum(result.statuses.values())
    result.p50 = float(m.group(1)) if (m := re.search(r"^P50 ([\d.]+)$", out, re.M)) else 0.0
    result.p99 = float(m.group(1)) if (m := re.search(r"^P99 ([\d.]+)$", out, re.M)) else 0.0


# -- one database -----------------------------------------------------------------------------


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


def _servers(database: str, env: dict[str, str], url: str, key: str, token: str,
             workers: int) -> dict[str, tuple[list[str], dict[str, str], str]]:
    servers = {"otpgate": (
        [sys.executable, "-m", "otpgate", "serve", "--workers", str(workers)], env,
        "/openapi.json",
    )}
    if database == "postgres":
        floor_env = {**env, "FLOOR_DATABASE_URL": url.replace("+psycopg", ""),
                     "FLOOR_SECRET_KEYS": f"bench:{key}", "FLOOR_TOKEN": token}
        servers["floor"] = (
            [sys.executable, str(HERE / "floor_server.py"), "--workers", str(workers)],
            floor_env, PATH,
        )
    return servers


def run_database(database: str, args: argparse.Namespace, home: Path) -> list[Result]:
    pg_name, url = _pg_database() if database == "postgres" else ("", "")
    try:
        key = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
        env = {
            **os.environ, "OTPGATE_HOME": str(home), "OTPGATE_DATABASE_URL": url,
            "OTPGATE_SECRET_KEYS": f"bench:{key}", "OTPGATE_ARGON2_TIME_COST": "1",
            "OTPGATE_ARGON2_MEMORY_KIB": "8", "OTPGATE_ARGON2_PARALLELISM": "1",
        }
        ctx = build_context(Settings.from_env(env), migrate=True)
        engine = ctx.session_factory.kw["bind"]
        lines = int(args.seconds * MAX_RATE_PER_THREAD)
        print(f"[{database}] creating users ...", file=sys.stderr)
        good = _seed_good(ctx, THREADS * USERS_PER_THREAD)
        bad = _seed_wrong(ctx, engine, THREADS * lines // WRONG_PER_USER + 1)
        token = api_tokens.create_api_token(ctx, OPERATOR, None, "benchmark", {"verify"})
        base = home / "requests"
        results = []
        servers = {}
        try:
            for name, (argv, server_env, probe) in _servers(
                database, env, url, key, token, args.workers
            ).items():
                servers[name] = Server(argv, server_env, home / f"{name}.log", probe)
            # Rounds, and the servers one after the other within each: a machine whose
            # speed drifts during the run slows both alike.
            for round_no in range(1, args.rounds + 1):
                for connections in args.connections:
                    for case in ("correct", "wrong"):
                        for name, server in servers.items():
                            print(f"[{database}] round {round_no} {name} c={connections} "
                                  f"{case} ...", file=sys.stderr)
                            if case == "correct":
                                _write_correct(base, good, engine, lines)
                            else:
                                _write_wrong(base, bad, engine)
                            result = Result(database, name, connections, case, round_no)
                            cpu0, db0 = server.cpu(), _cpu_by_pid(_backend_pids(engine))
                            _wrk(server.port, connections, args.seconds, base, token, result)
                            result.server_cpu = _cpu_since(cpu0, server.cpu())
                            if database == "postgres":
                                db1 = _cpu_by_pid(_backend_pids(engine))
                                result.db_cpu = _cpu_since(db0, db1)
                            results.append(result)
        finally:
            for server in servers.values():
                server.stop()
        engine.dispose()
        return results
    finally:
        if pg_name:
            _drop_pg(pg_name)


HEADERS = ["database", "server", "conns", "codes", "round", "requests", "req/s", "p50 ms", "p99 ms",
           "server ms CPU/req", "PG ms CPU/req", "statuses"]


def print_table(results: list[Result]) -> None:
    rows = [HEADERS, *(r.row() for r in results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS))]
    for n, row in enumerate(rows):
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if n == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


def print_ratios(results: list[Result]) -> None:
    """otpgate / floor for each (connections, case) measured on both, in this run: the
    median over the rounds of each round's ratio (the two ran back to back)."""
    floor = {(r.connections, r.case, r.round): r for r in results if r.server == "floor"}
    ratios: dict[tuple[int, str], list[tuple[float, float | None]]] = {}
    for r in results:
        f = floor.get((r.connections, r.case, r.round))
        if r.server != "otpgate" or r.database != "postgres" or f is None or not f.rate:
            continue
        pg = None
        if r.db_cpu is not None and f.db_cpu:
            pg = (r.db_cpu / max(r.requests, 1)) / (f.db_cpu / max(f.requests, 1))
        ratios.setdefault((r.connections, r.case), []).append((r.rate / f.rate, pg))
    for (connections, case), found in ratios.items():
        rates = sorted(rate for rate, _ in found)
        pgs = sorted(pg for _, pg in found if pg is not None)
        line = (f"{case:7} c={connections:<3} otpgate/floor rate = {statistics.median(rates):.2f}"
                f" (rounds: {', '.join(f'{x:.2f}' for x in rates)})")
        if pgs:
            line += f", PostgreSQL CPU per check = {statistics.median(pgs):.2f}x the floor's"
        print(line)


def _ints(text_value: str) -> list[int]:
    return [int(x) for x in text_value.split(",") if x]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each run")
    parser.add_argument("--connections", type=_ints, default=[16, 64])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="runs of each case per server")
    parser.add_argument("--databases", default="sqlite,postgres")
    args = parser.parse_args(argv)
    unknown = set(args.databases.split(",")) - {"sqlite", "postgres"}
    if unknown:
        parser.error(f"--databases takes sqlite and/or postgres, not {', '.join(sorted(unknown))}")
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    results: list[Result] = []
    for database in args.databases.split(","):
        with tempfile.TemporaryDirectory(prefix="otpgate-bench-") as tmp:
            results += run_database(database, args, Path(tmp))
    print(f"\nPOST {PATH}, wrk -t{THREADS}, {args.seconds:g} s per run, {args.workers} server "
          f"workers, {os.cpu_count()} CPUs shared with wrk and PostgreSQL\n")
    print_table(results)
    print()
    print_ratios(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
