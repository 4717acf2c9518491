"""A real nginx with ``auth_request`` to a real ``otpgate serve``, in front of an app.

Everything runs on 127.0.0.1 ports chosen at random: nginx (started with ``-p $TMP``), the
otpgate process (its own data directory, cheap argon2, fixed keys) and a small upstream
that answers every request with the headers it received, as JSON. The browser is an
httpx client with a cookie jar; codes come from pyotp.
"""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import httpx2 as httpx
import pyotp
import pytest

from conftest import need_tool
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
"""

NGINX_CONF = """
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;

    server {{
        listen 127.0.0.1:{port};

        location = /_otpgate_verify {{
            internal;
            proxy_pass http://127.0.0.1:{otpgate}/auth/verify;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
        }}

        location @otpgate_login {{
            return 302 $otpgate_login;
        }}

        location /app/ {{
            auth_request /_otpgate_verify;
            auth_request_set $otpgate_user $upstream_http_x_otpgate_user;
            auth_request_set $otpgate_email $upstream_http_x_otpgate_email;
            auth_request_set $otpgate_groups $upstream_http_x_otpgate_groups;
            auth_request_set $otpgate_login $upstream_http_location;
            error_page 401 = @otpgate_login;
            proxy_set_header X-Otpgate-User $otpgate_user;
            proxy_set_header X-Otpgate-Email $otpgate_email;
            proxy_set_header X-Otpgate-Groups $otpgate_groups;
            proxy_pass http://127.0.0.1:{upstream};
        }}

        location / {{
            proxy_pass http://127.0.0.1:{otpgate};
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
}}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class _Echo(BaseHTTPRequestHandler):
    """The protected app: answers with the request line and headers it received."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
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
class Stack:
    base: str
    secrets: dict[str, str]

    def browser(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, follow_redirects=False, timeout=10)

    def code(self, username: str) -> str:
        return str(pyotp.TOTP(self.secrets[username]).now())


def _prepare_accounts(env: dict[str, str]) -> dict[str, str]:
    """alice and carol (2FA, group staff), bob (2FA, no group); their TOTP secrets."""
    ctx = build_context(Settings.from_env(env), migrate=True)
    secrets: dict[str, str] = {}
    for name, staff in (("alice", True), ("bob", False), ("carol", True)):
        user = users.create_user(ctx, OPERATOR, name, PASSWORD, email=f"{name}@example.com")
        pending = enrolment.begin_enrolment(ctx, OPERATOR, user.id, step_up_at=ctx.now_dt())
        # Confirmed with the previous step's code, so the current one is still unused.
        first = pyotp.TOTP(pending.secret_b32).at(int(time.time()) - 30)
        enrolment.confirm_enrolment(ctx, OPERATOR, user.id, pending.credential_id, first, "phone")
        if staff:
            groups.add_to_group(ctx, OPERATOR, None, user.id, "staff")
        secrets[name] = pending.secret_b32
    ctx.session_factory.kw["bind"].dispose()
    return secrets


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """nginx → otpgate serve + echo upstream, all started here and stopped at the end."""
    nginx = need_tool("nginx")
    tmp = tmp_path_factory.mktemp("nginx")
    port, otpgate_port = _free_port(), _free_port()
    base = f"http://127.0.0.1:{port}"
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

    upstream = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    (tmp / "nginx.conf").write_text(
        NGINX_CONF.format(
            tmp=tmp, port=port, otpgate=otpgate_port, upstream=upstream.server_address[1]
        ),
        encoding="utf-8",
    )
    otpgate_log = tmp / "otpgate.log"
    nginx_log = tmp / "nginx.out"
    with otpgate_log.open("wb") as out1, nginx_log.open("wb") as out2:
        server = subprocess.Popen(
            [sys.executable, "-m", "otpgate", "serve", "--host", "127.0.0.1",
             "--port", str(otpgate_port)],
            env=env, stdout=out1, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        proxy = subprocess.Popen(
            [nginx, "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-g", "daemon off;"],
            stdout=out2, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    try:
        _wait_for(f"http://127.0.0.1:{otpgate_port}/login", server, otpgate_log)
        _wait_for(f"{base}/login", proxy, nginx_log)
        yield Stack(base=base, secrets=secrets)
    finally:
        _stop(proxy)
        _stop(server)
        upstream.shutdown()
        upstream.server_close()


def _csrf(page: httpx.Response) -> str:
    assert page.status_code == 200, (page.status_code, page.text[:300])
    match = _CSRF.search(page.text)
    assert match, "the page has no CSRF token"
    return match.group(1)


def _password(client: httpx.Client, username: str, login_page: str = "/login") -> httpx.Response:
    token = _csrf(client.get(login_page))
    return client.post(
        "/login", data={"csrf_token": token, "username": username, "password": PASSWORD}
    )


def _code(client: httpx.Client, stack: Stack, username: str) -> httpx.Response:
    token = _csrf(client.get("/login/2fa"))
    return client.post("/login/2fa", data={"csrf_token": token, "code": stack.code(username)})


def _login_redirect(stack: Stack, path: str) -> str:
    return f"{stack.base}/login?rd=" + quote(f"{stack.base}{path}", safe="")


def test_login_flow_through_nginx(stack: Stack) -> None:
    """No session → login; password only → refused; password + code → upstream sees alice;
    forged identity headers are replaced; logout ends access, the old cookie too."""
    with stack.browser() as client:
        first = client.get("/app/page?x=1")
        assert first.status_code == 302
        assert first.headers["location"] == _login_redirect(stack, "/app/page?x=1")

        after_password = _password(client, "alice", first.headers["location"])
        assert after_password.status_code == 303
        assert after_password.headers["location"] == "/login/2fa"
        refused = client.get("/app/page?x=1")
        assert refused.status_code == 302
        assert refused.headers["location"].startswith(f"{stack.base}/login?rd=")

        done = _code(client, stack, "alice")
        assert done.status_code == 303
        assert done.headers["location"] == f"{stack.base}/app/page?x=1"

        forged = {"X-Otpgate-User": "root", "x-otpgate-user": "root",
                  "X_Otpgate_User": "root", "x_otpgate_user": "root",
                  "X-Otpgate-Groups": "admins"}
        seen = client.get("/app/page?x=1", headers=forged)
        assert seen.status_code == 200
        echoed = seen.json()
        assert echoed["path"] == "/app/page?x=1"
        identity = [
            (k.lower().replace("_", "-"), v) for k, v in echoed["headers"]
            if k.lower().replace("_", "-").startswith("x-otpgate-")
        ]
        assert sorted(identity) == [
            ("x-otpgate-email", "alice@example.com"),
            ("x-otpgate-groups", "staff"),
            ("x-otpgate-user", "alice"),
        ]
        posted = client.post("/app/form", data={"a": "b"})
        assert posted.status_code == 200 and posted.json()["method"] == "POST"

        old_cookie = client.cookies.get("otpgate_session")
        assert old_cookie
        token = _csrf(client.get("/"))
        assert client.post("/logout", data={"csrf_token": token}).status_code == 303
        after_logout = client.get("/app/page")
        assert after_logout.status_code == 302
        assert after_logout.headers["location"] == _login_redirect(stack, "/app/page")

    with stack.browser() as replay:
        again = replay.get("/app/page", headers={"Cookie": f"otpgate_session={old_cookie}"})
        assert again.status_code == 302


def test_user_outside_the_site_group_is_forbidden(stack: Stack) -> None:
    """bob has a full session but is not in the site's group: nginx answers 403."""
    with stack.browser() as client:
        assert _password(client, "bob").headers["location"] == "/login/2fa"
        assert _code(client, stack, "bob").headers["location"] == "/"
        response = client.get("/app/page")
        assert response.status_code == 403
        assert "location" not in response.headers


def test_off_site_return_url_and_host_are_refused(stack: Stack) -> None:
    """An off-site rd= is ignored after login; a forged Host gets 403, never a redirect."""
    with stack.browser() as client:
        spoofed = client.get("/app/page", headers={"Host": "evil.example.net"})
        assert spoofed.status_code == 403
        assert "location" not in spoofed.headers

        login_page = "/login?rd=" + quote("https://evil.example.net/app/", safe="")
        assert _password(client, "carol", login_page).headers["location"] == "/login/2fa"
        done = _code(client, stack, "carol")
        assert done.status_code == 303
        assert done.headers["location"] == "/"
        assert client.get("/app/page").status_code == 200
