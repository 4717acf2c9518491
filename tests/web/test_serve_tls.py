"""``otpgate serve --certfile/--keyfile``: HTTPS without a proxy, cookies marked Secure."""

from __future__ import annotations

import re
import ssl
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from serve_process import ServeProcess, otpgate_env
from smtp_sink import make_tls_files

PASSWORD = "correct horse battery staple"


def _session_cookie(response: httpx2.Response) -> str:
    cookies = [c for c in response.headers.get_list("set-cookie")
               if c.startswith("otpgate_session=") and "Max-Age=0" not in c]
    assert len(cookies) == 1, response.headers
    return cookies[0]


def test_https_serves_the_portal_and_marks_the_login_cookie_secure(tmp_path: Path) -> None:
    """Over HTTPS (certificate verified by the client) the session cookies of the login page
    and of the password step carry Secure, with no OTPGATE_COOKIE_SECURE set."""
    tls = make_tls_files(tmp_path)
    env = otpgate_env(tmp_path / "home")
    env.pop("OTPGATE_COOKIE_SECURE", None)
    subprocess.run([sys.executable, "-m", "otpgate", "user", "add", "alice"], input=PASSWORD,
                   env=env, check=True, capture_output=True, text=True, timeout=60)
    trust = ssl.create_default_context(cafile=str(tls.ca))
    server = ServeProcess.start(env, "--certfile", str(tls.cert), "--keyfile", str(tls.key),
                                tls=trust)
    try:
        with httpx2.Client(base_url=server.base, verify=trust, timeout=30) as client:
            form = client.get("/login")
            assert form.status_code == 200
            assert "Secure" in _session_cookie(form).split("; ")
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
            assert csrf, form.text
            logged = client.post("/login", data={"username": "alice", "password": PASSWORD,
                                                 "csrf_token": csrf[1]})
            assert logged.status_code == 303, logged.text
            assert "Secure" in _session_cookie(logged).split("; ")
        with pytest.raises(httpx2.TransportError):
            httpx2.get(f"http://127.0.0.1:{server.port}/login", timeout=5)
    finally:
        code = server.stop()
    assert code == 0, server.log
    assert f"portal: https://127.0.0.1:{server.port}/" in server.log


def _serve_fails(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "otpgate", "serve", "--port", "1", *args],
                          env=env, capture_output=True, text=True, timeout=60, check=False)


def test_unusable_certificate_files_are_one_line_errors(tmp_path: Path) -> None:
    """A missing half, a missing file or a key of another certificate: one line, no start."""
    tls = make_tls_files(tmp_path)
    other = tmp_path / "other.key"
    other.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    env = otpgate_env(tmp_path / "home")
    cases = [
        (("--certfile", str(tls.cert)), 2, "--certfile and --keyfile go together"),
        (("--certfile", str(tmp_path / "nope.pem"), "--keyfile", str(tls.key)), 5,
         "nope.pem: no such file"),
        (("--certfile", str(tls.cert), "--keyfile", str(other)), 5, "cannot use"),
    ]
    for args, status, message in cases:
        done = _serve_fails(env, *args)
        assert done.returncode == status, done.stderr
        lines = done.stderr.splitlines()
        assert len(lines) == 1 and message in lines[0], done.stderr
