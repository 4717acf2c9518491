"""A real ``otpgate serve`` process for tests that talk to it over HTTP.

The database is migrated and seeded in this process first (a user with a TOTP authenticator
and an API token holding every scope), then ``otpgate serve`` starts on a free loopback
port with the same settings. Its standard error is kept line by line for log checks.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import pyotp

from otpgate.config import Settings
from otpgate.service import api_tokens, enrolment, users
from otpgate.service.context import Origin, build_context
from smtp_sink import free_port

__all__ = [
    "PASSWORD", "LiveServer", "Seed", "free_port", "live_server", "previous_step_code", "seed",
    "server_env",
]

PASSWORD = "correct horse battery staple"
_OPERATOR = Origin("cli", user_agent="cli:test")
_CHEAP_ARGON2 = {
    "OTPGATE_ARGON2_TIME_COST": "1",
    "OTPGATE_ARGON2_MEMORY_KIB": "8",
    "OTPGATE_ARGON2_PARALLELISM": "1",
}


@dataclass(frozen=True)
class Seed:
    """What :func:`seed` created: a user with 2FA on and its secret, and an API token."""

    username: str
    secret: str
    token: str

    def code(self, steps: int = 0) -> str:
        return str(pyotp.TOTP(self.secret).at(int(time.time()) + 30 * steps))


def previous_step_code(secret: str) -> str:
    """The code of the step before now, to confirm an enrolment while leaving the current
    code unused; never in a step's last seconds, or the check could already be two steps
    further and refuse it."""
    if time.time() % 30 > 27:
        time.sleep(30 - time.time() % 30 + 0.1)
    return str(pyotp.TOTP(secret).at(int(time.time()) - 30))


def seed(env: Mapping[str, str], username: str = "alice") -> Seed:
    """Migrate the database of ``env`` and add a user with one TOTP authenticator and an
    API token with every scope."""
    ctx = build_context(Settings.from_env(env), migrate=True)
    try:
        user = users.create_user(ctx, _OPERATOR, username, PASSWORD)
        pending = enrolment.begin_enrolment(
            ctx, _OPERATOR, user.id, step_up_at=ctx.now_dt(), name="phone"
        )
        secret = pending.secret_b32
        first = previous_step_code(secret)
        enrolment.confirm_enrolment(ctx, _OPERATOR, user.id, pending.credential_id, first, "phone")
        token = api_tokens.create_api_token(
            ctx, _OPERATOR, None, "tests", {"verify", "enrol", "admin"}
        )
    finally:
        ctx.session_factory.kw["bind"].dispose()
    return Seed(username=username, secret=secret, token=token)


@dataclass
class LiveServer:
    base: str
    proc: subprocess.Popen[str]
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)


def server_env(home: Path, database_url: str = "", **extra: str) -> dict[str, str]:
    """The environment of a server on ``home`` (and ``database_url`` if not SQLite)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OTPGATE_", "PROMETHEUS_MULTIPROC"))
    }
    env.update(_CHEAP_ARGON2, OTPGATE_HOME=str(home), **extra)
    if database_url:
        env["OTPGATE_DATABASE_URL"] = database_url
        env["OTPGATE_SECRET_KEYS"] = "test:" + "A" * 43
    return env


@contextmanager
def live_server(env: Mapping[str, str], *args: str, ready_path: str = "/login") -> Iterator[
    LiveServer
]:
    """Run ``otpgate serve ARGS`` on a free port until the block ends."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "otpgate", "serve", "--port", str(port), *args],
        env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    server = LiveServer(base=f"http://127.0.0.1:{port}", proc=proc)
    assert proc.stdout is not None and proc.stderr is not None
    readers = [
        threading.Thread(target=server.stdout.extend, args=(proc.stdout,), daemon=True),
        threading.Thread(target=server.stderr.extend, args=(proc.stderr,), daemon=True),
    ]
    for reader in readers:
        reader.start()
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, "".join(server.stderr)
            try:
                if httpx2.get(server.base + ready_path, timeout=1).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            assert time.monotonic() < deadline, "no answer:\n" + "".join(server.stderr)
            time.sleep(0.2)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for reader in readers:
            reader.join(timeout=5)
        proc.stdout.close()
        proc.stderr.close()
