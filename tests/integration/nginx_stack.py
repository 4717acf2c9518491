"""A real nginx with ``auth_request`` to a real ``otpgate serve``, in front of an app.

Everything runs on 127.0.0.1 ports chosen at random: nginx (started with ``-p $TMP``), the
otpgate process (its own data directory, cheap argon2, fixed keys) and a small upstream
that answers every request with the request line and headers it received, as JSON.

nginx listens on two ports. The main one serves the portal (default server), a protected
``/app/`` beside it, and the ERP and wiki server blocks exactly as the README writes
them. The "legacy" port serves the same two hosts the way the README used to (the URL
built from the client's ``Host``) and an ERP location that lets a client's
``X-Forwarded-Host`` through: otpgate's own checks must hold even behind those.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pyotp
import pytest

from conftest import need_tool
from live_server import previous_step_code
from otpgate.config import Settings
from otpgate.service import enrolment, groups, users
from otpgate.service.context import Origin, build_context

PASSWORD = "correct horse battery staple"
OPERATOR = Origin("cli", user_agent="cli:test")
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_STARTUP_SECONDS = 30

SITES = """
[[site]]
name = "app"
domains = ["127.0.0.1"]
paths = ["/app"]
groups = ["staff"]

[[site]]
name = "erp"
domains = ["erp.example.com"]
groups = ["staff"]

[[site]]
name = "erp-admin"
domains = ["erp.example.com"]
paths = ["/admin"]
groups = ["admins"]

[[site]]
name = "wiki"
domains = ["wiki.example.com"]
users = ["*"]
require_2fa = false
"""

# As in the README: the upstream gets every cookie but otpgate's session.
COOKIE_MAPS = r"""
    map $http_cookie $otpgate_cookie_rest {{
        default $http_cookie;
        "~*^(?<otpgate_ck_head>(?:[^;]*;)*?)\s*otpgate_session=[^;]*;?\s*(?<otpgate_ck_tail>.*)$"
            "$otpgate_ck_head$otpgate_ck_tail";
    }}
    map $otpgate_cookie_rest $otpgate_upstream_cookie {{
        default $otpgate_cookie_rest;
        "~*(?:^|;)\s*otpgate_session=" "";
    }}
"""

VERIFY = """
        location = /_otpgate_verify {{
            internal;
            proxy_pass http://127.0.0.1:{otpgate}/auth/verify?site={site};
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            {original}
        }}
        location @otpgate_login {{
            return 302 $otpgate_login;
        }}
"""

PROTECTED = """
            auth_request {verify};
            auth_request_set $otpgate_user $upstream_http_x_otpgate_user;
            auth_request_set $otpgate_email $upstream_http_x_otpgate_email;
            auth_request_set $otpgate_groups $upstream_http_x_otpgate_groups;
            auth_request_set $otpgate_login $upstream_http_location;
            error_page 401 = @otpgate_login;
            proxy_set_header X-Otpgate-User $otpgate_user;
            proxy_set_header X-Otpgate-Email $otpgate_email;
            proxy_set_header X-Otpgate-Groups $otpgate_groups;
            proxy_set_header Cookie $otpgate_upstream_cookie;
            proxy_pass http://127.0.0.1:{upstream};
"""


def _site_server(listen: str, host: str, site: str, original: str, ports: dict[str, int]) -> str:
    verify = VERIFY.format(site=site, original=original, **ports)
    protected = PROTECTED.format(verify="/_otpgate_verify", **ports)
    return (
        f"    server {{\n        listen {listen};\n        server_name {host};\n{verify}"
        f"        location / {{{protected}        }}\n    }}\n"
    )


def _legacy_forwarded_location(ports: dict[str, int]) -> str:
    # Traefik-style headers, but X-Forwarded-Host left as the client (or a front proxy)
    # sent it: otpgate must still refuse a host outside the named site.
    verify = """
        location = /_otpgate_verify_fwd {{
            internal;
            proxy_pass http://127.0.0.1:{otpgate}/auth/verify?site=erp;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Uri $request_uri;
        }}
""".format(**ports)
    protected = PROTECTED.format(verify="/_otpgate_verify_fwd", **ports)
    return f"{verify}        location /fwd/ {{{protected}        }}\n"


def nginx_conf(tmp: Path, ports: dict[str, int]) -> str:
    main, legacy = f"127.0.0.1:{ports['port']}", f"127.0.0.1:{ports['legacy']}"
    fixed = "proxy_set_header X-Original-URL http://{host}:{port}$request_uri;"
    from_client = "proxy_set_header X-Original-URL $scheme://$http_host$request_uri;"
    portal_verify = VERIFY.format(site="app", original=fixed.format(host="127.0.0.1", **ports),
                                  **ports)
    servers = [
        f"""    server {{
        listen {main} default_server;
{portal_verify}
        location /app/ {{{PROTECTED.format(verify="/_otpgate_verify", **ports)}        }}
        location / {{
            proxy_pass http://127.0.0.1:{ports['otpgate']};
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
""",
        _site_server(main, "erp.example.com", "erp",
                     fixed.format(host="erp.example.com", **ports), ports),
        _site_server(main, "wiki.example.com", "wiki",
                     fixed.format(host="wiki.example.com", **ports), ports),
        _site_server(legacy, "erp.example.com", "erp", from_client, ports).replace(
            "        location / {", _legacy_forwarded_location(ports) + "        location / {", 1
        ),
        _site_server(legacy, "wiki.example.com", "wiki", from_client, ports),
    ]
    temp = "\n".join(
        f"    {kind}_temp_path {tmp}/{kind};" for kind in
        ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"worker_processes 1;\npid {tmp}/nginx.pid;\nerror_log {tmp}/error.log info;\n"
        f"events {{ worker_connections 64; }}\nhttp {{\n    access_log {tmp}/access.log;\n"
        f"{temp}\n{COOKIE_MAPS.format()}\n" + "".join(servers) + "}\n"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class _Echo(BaseHTTPRequestHandler):
    """The protected app: answers with the request line and headers it received."""

    seen: list[str]

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.seen.append(self.path)
        body = json.dumps(
            {"method": self.command, "path": self.path, "headers": list(self.headers.items())}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer  # noqa: N815 - http.server's naming

    def log_message(self, format: str, *args: object) -> None:
        return


def _wait_for(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + _STARTUP_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{proc.args!r} exited:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail(f"{url} did not answer within {_STARTUP_SECONDS} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@dataclass
class Reply:
    """What a raw request got back: status, headers (lower-case names), JSON if any."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Stack:
    base: str
    port: int
    legacy_port: int
    secrets: dict[str, str]
    upstream_seen: list[str] = field(default_factory=list)
    sessions: dict[str, str] = field(default_factory=dict)

    def browser(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, follow_redirects=False, timeout=10)

    def code(self, username: str) -> str:
        return str(pyotp.TOTP(self.secrets[username]).now())

    def raw(
        self, target: str, headers: dict[str, str], *, legacy: bool = False
    ) -> Reply:
        """``GET target`` sent byte for byte (absolute-form, odd paths, any Host)."""
        conn = http.client.HTTPConnection(
            "127.0.0.1", self.legacy_port if legacy else self.port, timeout=10
        )
        try:
            conn.putrequest("GET", target, skip_host=True, skip_accept_encoding=True)
            for name, value in headers.items():
                conn.putheader(name, value)
            conn.endheaders()
            response = conn.getresponse()
            return Reply(
                response.status,
                {k.lower(): v for k, v in response.getheaders()},
                response.read(),
            )
        finally:
            conn.close()


def _prepare_accounts(env: dict[str, str]) -> dict[str, str]:
    """alice, carol and dora (2FA, group staff), bob and ed (2FA, no group), walt
    (password only, no group); the TOTP secrets of those with 2FA. Each logs in at most
    once per test run: a second login in the same 30 s would replay the code."""
    ctx = build_context(Settings.from_env(env), migrate=True)
    secrets: dict[str, str] = {}
    for name, staff in (("alice", True), ("bob", False), ("carol", True), ("dora", True),
                        ("ed", False)):
        user = users.create_user(ctx, OPERATOR, name, PASSWORD, email=f"{name}@example.com")
        pending = enrolment.begin_enrolment(ctx, OPERATOR, user.id, step_up_at=ctx.now_dt())
        first = previous_step_code(pending.secret_b32)
        enrolment.confirm_enrolment(ctx, OPERATOR, user.id, pending.credential_id, first, "phone")
        if staff:
            groups.add_to_group(ctx, OPERATOR, None, user.id, "staff")
        secrets[name] = pending.secret_b32
    users.create_user(ctx, OPERATOR, "walt", PASSWORD, email="walt@example.com")
    ctx.session_factory.kw["bind"].dispose()
    return secrets


def run_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """nginx → otpgate serve + echo upstream, all started here and stopped at the end."""
    nginx = need_tool("nginx")
    tmp = tmp_path_factory.mktemp("nginx")
    ports = {"port": _free_port(), "legacy": _free_port(), "otpgate": _free_port()}
    base = f"http://127.0.0.1:{ports['port']}"
    (tmp / "sites.toml").write_text(SITES, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTPGATE_")}
    env.update(
        OTPGATE_HOME=str(tmp / "otpgate"),
        OTPGATE_SECRET_KEYS="k1:" + base64.urlsafe_b64encode(bytes(range(32))).decode(),
        OTPGATE_ARGON2_TIME_COST="1",
        OTPGATE_ARGON2_MEMORY_KIB="8",
        OTPGATE_ARGON2_PARALLELISM="1",
        OTPGATE_SITES_FILE=str(tmp / "sites.toml"),
        OTPGATE_BASE_URL=base,
    )
    (tmp / "otpgate").mkdir(mode=0o700)
    secrets = _prepare_accounts(env)

    seen: list[str] = []
    handler = type("Echo", (_Echo,), {"seen": seen})
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    ports["upstream"] = upstream.server_address[1]
    (tmp / "nginx.conf").write_text(nginx_conf(tmp, ports), encoding="utf-8")
    otpgate_log = tmp / "otpgate.log"
    nginx_log = tmp / "nginx.out"
    with otpgate_log.open("wb") as out1, nginx_log.open("wb") as out2:
        server = subprocess.Popen(
            [sys.executable, "-m", "otpgate", "serve", "--host", "127.0.0.1",
             "--port", str(ports["otpgate"])],
            env=env, stdout=out1, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        proxy = subprocess.Popen(
            [nginx, "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-g", "daemon off;"],
            stdout=out2, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    try:
        _wait_for(f"http://127.0.0.1:{ports['otpgate']}/login", server, otpgate_log)
        _wait_for(f"{base}/login", proxy, nginx_log)
        yield Stack(base, ports["port"], ports["legacy"], secrets, seen)
    finally:
        _stop(proxy)
        _stop(server)
        upstream.shutdown()
        upstream.server_close()


def csrf(page: httpx.Response) -> str:
    assert page.status_code == 200, (page.status_code, page.text[:300])
    match = _CSRF.search(page.text)
    assert match, "the page has no CSRF token"
    return match.group(1)


def password_step(
    client: httpx.Client, username: str, login_page: str = "/login"
) -> httpx.Response:
    token = csrf(client.get(login_page))
    return client.post(
        "/login", data={"csrf_token": token, "username": username, "password": PASSWORD}
    )


def code_step(client: httpx.Client, stack: Stack, username: str) -> httpx.Response:
    token = csrf(client.get("/login/2fa"))
    return client.post("/login/2fa", data={"csrf_token": token, "code": stack.code(username)})


def session_of(stack: Stack, username: str) -> str:
    """A full session of the user, logged in through the portal once; its cookie value."""
    if username in stack.sessions:
        return stack.sessions[username]
    with stack.browser() as client:
        answer = password_step(client, username)
        if answer.headers["location"] == "/login/2fa":
            answer = code_step(client, stack, username)
        assert answer.status_code == 303, answer.text[:300]
        cookie = client.cookies.get("otpgate_session")
    assert cookie
    stack.sessions[username] = cookie
    return cookie
