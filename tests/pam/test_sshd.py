"""A real sshd on 127.0.0.1 with pam_otpgate.so, and paramiko as the client.

sshd takes its PAM service name from the basename of argv[0], so it is started through a
symlink named after a temporary ``/etc/pam.d`` file; the system's ``sshd`` file is never
read or written.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import paramiko
import pytest

from conftest import need_tool
from otpgate.service import audit

from .conftest import Otpgate, ServiceFactory, UnixUser, next_code

PROMPT = "Verification code: "


@dataclass
class Sshd:
    port: int
    key: paramiko.Ed25519Key
    user: UnixUser
    log: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"sshd exited: {log.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"sshd did not listen: {log.read_text(errors='replace')}")


def _authorise(user: UnixUser, key: paramiko.Ed25519Key) -> None:
    ssh_dir = user.home / ".ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    keys = ssh_dir / "authorized_keys"
    keys.write_text(f"{key.get_name()} {key.get_base64()}\n", encoding="utf-8")
    keys.chmod(0o600)
    for path in (ssh_dir, keys):
        os.chown(path, user.uid, -1)


@pytest.fixture
def sshd(
    tmp_path: Path,
    otpgate: Otpgate,
    pam_service: ServiceFactory,
    unix_user: Callable[..., UnixUser],
) -> Iterator[Sshd]:
    """sshd on a free loopback port: publickey, then keyboard-interactive through otpgate."""
    binary = need_tool("sshd")
    keygen = need_tool("ssh-keygen")
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    service = pam_service(f"config={otpgate.env_file}", name=f"sshd-otpgate-{secrets.token_hex(4)}")
    host_key = tmp_path / "host_ed25519"
    subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)], check=True)
    user = unix_user()
    client_key = paramiko.Ed25519Key.from_private_key_file(str(_client_key(tmp_path, keygen)))
    _authorise(user, client_key)
    port = _free_port()
    config = tmp_path / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\n"
        f"PidFile {tmp_path / 'sshd.pid'}\nUsePAM yes\nKbdInteractiveAuthentication yes\n"
        "PasswordAuthentication no\nPubkeyAuthentication yes\n"
        "AuthenticationMethods publickey,keyboard-interactive\nUseDNS no\n"
        f"AllowUsers {user.name}\nLogLevel VERBOSE\n",
        encoding="utf-8",
    )
    link = tmp_path / service
    link.symlink_to(binary)
    log = tmp_path / "sshd.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(link), "-D", "-e", "-f", str(config)], stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        _wait_for_port(port, proc, log)
        yield Sshd(port, client_key, user, log)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _client_key(tmp_path: Path, keygen: str) -> Path:
    path = tmp_path / "client_ed25519"
    subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path


def _login(server: Sshd, answer: str) -> str | None:
    """Log in with the key, answer the code prompt, run a command; its output, or None."""
    prompts: list[str] = []

    def handler(title: str, instructions: str, fields: list[tuple[str, bool]]) -> list[str]:
        prompts.extend(prompt for prompt, _echo in fields)
        return [answer for _ in fields]

    transport = paramiko.Transport(("127.0.0.1", server.port))
    try:
        transport.start_client(timeout=30)
        remaining = transport.auth_publickey(server.user.name, server.key)
        assert "keyboard-interactive" in remaining  # the key alone is not enough
        try:
            transport.auth_interactive(server.user.name, handler)
        except paramiko.AuthenticationException:
            assert prompts == [PROMPT]
            return None
        assert prompts == [PROMPT]
        channel = transport.open_session(timeout=30)
        channel.exec_command("echo logged-in-as-$(id -un)")
        output = bytes(channel.makefile("rb").read()).decode()
        channel.close()
        return output
    finally:
        transport.close()


def test_ssh_login_with_code(sshd: Sshd, otpgate: Otpgate) -> None:
    """Right code: the command runs; wrong code: refused; the same code twice: refused."""
    secret = otpgate.add_user(sshd.user.name)
    code = next_code(secret)
    wrong = "000000" if code != "000000" else "111111"
    assert _login(sshd, wrong) is None
    assert _login(sshd, code) == f"logged-in-as-{sshd.user.name}\n"
    assert _login(sshd, code) is None
    events = audit.query_audit(otpgate.ctx, username=sshd.user.name)
    kinds = [e.kind for e in events]
    assert kinds.count("login.ok") == 1
    assert kinds.count("login.code_failed") == 1
    for event in events:
        if event.kind.startswith("login."):
            assert event.source == "ssh"
            assert event.client_addr == "127.0.0.1"


def test_ssh_user_without_2fa_refused(sshd: Sshd, otpgate: Otpgate) -> None:
    """Without nullok, a user with no otpgate account cannot log in, whatever the answer."""
    assert _login(sshd, "123456") is None
