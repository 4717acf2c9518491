"""``otpgate serve`` as a process: its background purge, and SIGTERM letting the request in
flight finish before a clean exit."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2
import pyotp
from sqlalchemy import select

from otpgate.store import repositories as repo
from otpgate.store.db import make_engine, make_session_factory, transaction
from otpgate.store.models import WebSession
from serve_process import ServeProcess, otpgate_env
from smtp_sink import smtp_server


def _cli(env: dict[str, str], *argv: str, stdin: str = "") -> str:
    done = subprocess.run([sys.executable, "-m", "otpgate", *argv], input=stdin, env=env,
                          capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _read_response(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_sigterm_finishes_the_request_in_flight_and_stops_the_mail_sender(
    tmp_path: Path,
) -> None:
    """A request whose body is still arriving when SIGTERM comes is answered 200; new
    connections are refused meanwhile; the mail sender is joined; exit status 0 and no
    traceback."""
    with smtp_server() as (_sink, smtp_port):
        env = otpgate_env(
            tmp_path / "home", OTPGATE_SMTP_HOST="127.0.0.1", OTPGATE_SMTP_PORT=str(smtp_port),
            OTPGATE_SMTP_SECURITY="none", OTPGATE_SMTP_FROM="otpgate@example.org",
        )
        _cli(env, "user", "add", "alice", "--email", "alice@example.org",
             stdin="correct horse battery staple\n")
        token = _cli(env, "token", "create", "portal", "--scope", "enrol").strip()
        server = ServeProcess.start(env)
        try:
            auth = {"Authorization": f"Bearer {token}"}
            started = httpx2.post(f"{server.base}/api/v1/users/alice/enrolments",
                                  json={"name": "phone"}, headers=auth, timeout=30)
            assert started.status_code == 201, started.text
            enrolment = started.json()
            body = json.dumps({"code": pyotp.TOTP(enrolment["secret"]).now(),
                               "name": "phone"}).encode()
            path = f"/api/v1/users/alice/enrolments/{enrolment['credential_id']}/confirm"
            head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n").encode()
            with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
                sock.sendall(head + body[:5])
                time.sleep(0.5)  # the server has read the headers and waits for the body
                server.proc.send_signal(signal.SIGTERM)
                time.sleep(1.0)  # the server is now shutting down
                assert server.proc.poll() is None, "exited with a request in flight"
                try:
                    socket.create_connection(("127.0.0.1", server.port), timeout=5).close()
                    refused = False
                except OSError:
                    refused = True
                sock.sendall(body[5:])
                response = _read_response(sock)
        finally:
            code = server.stop()
    status_line, _, rest = response.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 200 OK", response
    assert b'"enabled":true' in rest
    assert refused, "a new connection was accepted during the shutdown"
    assert code == 0, server.log
    assert "mail sender stopped" in server.log
    assert "retention purge stopped" in server.log
    assert "Traceback" not in server.log


def _sessions(db: Path) -> set[str]:
    engine = make_engine(f"sqlite:///{db}")
    try:
        with transaction(make_session_factory(engine)) as s:
            return set(s.scalars(select(WebSession.id_hash)))
    finally:
        engine.dispose()


def test_serve_purges_expired_sessions_in_the_background(tmp_path: Path) -> None:
    """Sessions that expired while nothing ran are deleted once ``otpgate serve`` runs;
    live ones stay."""
    env = otpgate_env(tmp_path / "home")
    _cli(env, "user", "add", "alice", stdin="correct horse battery staple\n")
    db = tmp_path / "home" / "otpgate.db"
    engine = make_engine(f"sqlite:///{db}")
    now = datetime.now(UTC)
    try:
        with transaction(make_session_factory(engine)) as s:
            for name, age in (("expired", timedelta(days=2)), ("live", timedelta(0))):
                repo.add_session(s, id_hash=name, created_at=now - age,
                                 last_seen_at=now - age, expires_at=now - age + timedelta(hours=1))
    finally:
        engine.dispose()
    server = ServeProcess.start(env)
    try:
        deadline = time.monotonic() + 30
        while "expired" in _sessions(db) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        code = server.stop()
    left = _sessions(db)  # besides those of the requests that saw the server start
    assert "expired" not in left and "live" in left, left
    assert code == 0, server.log
    assert "retention: deleted 1 sessions" in server.log
