"""pam_otpgate.so with ``socket=``: pamtester, the real module and a real otpgate pam-daemon."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from otpgate.config import Settings
from otpgate.pam.helper import CheckRequest
from otpgate.pam.protocol import MAX_REQUEST_BYTES, encode_request
from otpgate.service import admin, audit, users
from otpgate.service.context import build_context

from .conftest import (
    Daemon,
    Otpgate,
    ServiceFactory,
    next_code,
    otpgate_values,
    pamtester,
    write_env_file,
)

NOBODY = 65534


def _wrong(secret: str) -> str:
    """A well-formed code that is not the next one."""
    return "000000" if next_code(secret) != "000000" else "111111"


def _socket_service(pam_service: ServiceFactory, daemon_socket: Path, *options: str,
                    with_helper: bool = False) -> str:
    return pam_service(f"socket={daemon_socket}", *options, with_helper=with_helper)


def _exchange(path: Path, data: bytes, *, shut: bool = True) -> bytes:
    """Send raw bytes to the daemon as root; everything it answers before closing."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(10)
        conn.connect(str(path))
        try:
            conn.sendall(data)
            if shut:
                conn.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the daemon stopped reading an oversized request: its answer still counts
        chunks = []
        try:
            while chunk := conn.recv(4096):
                chunks.append(chunk)
        except ConnectionResetError:
            pass  # Linux reports unread request bytes as a reset, after the answer
        return b"".join(chunks)


def _request(user: str, answer: str) -> bytes:
    return encode_request(CheckRequest(user, "192.0.2.9", "sshd", answer.encode()))


def test_right_code_then_replay(otpgate: Otpgate, pam_service: ServiceFactory,
                                daemon: Daemon) -> None:
    """Through the daemon a fresh code opens the login once; the replay is refused."""
    secret = otpgate.add_user("alice")
    service = _socket_service(pam_service, daemon.socket)
    code = next_code(secret)
    assert pamtester(service, "alice", code) == 0
    assert pamtester(service, "alice", code) == 1
    events = audit.query_audit(otpgate.ctx, username="alice", kind="login.ok")
    assert len(events) == 1
    assert events[0].source == "ssh"
    assert events[0].user_agent == f"{service}:alice"
    log = daemon.log_text()
    assert "accepted user=alice rhost=- method=totp" in log
    assert "refused user=alice rhost=- reason=replayed" in log
    assert code not in log


@pytest.mark.parametrize(
    "answer",
    ["000000", "12a456", "\u0661\u0662\u0663\u0664\u0665\u0666", "1" * 300, "1" * 5000, ""],
    ids=["wrong", "letter", "arabic-digits", "oversized", "huge", "empty"],
)
def test_bad_answers_refused(otpgate: Otpgate, pam_service: ServiceFactory, daemon: Daemon,
                             answer: str) -> None:
    """Wrong, non-digit, non-ASCII, oversized and empty answers are refused by the daemon."""
    secret = otpgate.add_user("alice")
    service = _socket_service(pam_service, daemon.socket)
    if answer == "000000":
        answer = _wrong(secret)
    assert pamtester(service, "alice", answer) == 1


def test_throttle_through_daemon(otpgate: Otpgate, pam_service: ServiceFactory,
                                 daemon: Daemon) -> None:
    """Wrong codes sent through the daemon lock the account; then the right code fails too."""
    secret = otpgate.add_user("alice")
    service = _socket_service(pam_service, daemon.socket)
    for _ in range(4):
        assert pamtester(service, "alice", _wrong(secret)) == 1
    user = users.find_user(otpgate.ctx, "alice")
    assert admin.lock_state(otpgate.ctx, user.id) is not None
    assert pamtester(service, "alice", next_code(secret)) == 1


def test_user_without_2fa_needs_nullok(otpgate: Otpgate, pam_service: ServiceFactory,
                                       daemon: Daemon) -> None:
    """The daemon's "no 2FA" answer lets the user in only with ``nullok``."""
    strict = _socket_service(pam_service, daemon.socket)
    lenient = _socket_service(pam_service, daemon.socket, "nullok")
    assert pamtester(strict, "bob", "123456") == 1
    assert pamtester(lenient, "bob", "123456") == 0


@pytest.mark.parametrize("nullok", [False, True])
def test_daemon_down_without_helper_refuses(
    tmp_path: Path, otpgate: Otpgate, pam_service: ServiceFactory, daemon: Daemon, nullok: bool
) -> None:
    """No socket, or a dead daemon's socket, with no helper= refuses (nullok or not)."""
    secret = otpgate.add_user("alice")
    extra = ["nullok"] if nullok else []
    missing = _socket_service(pam_service, tmp_path / "missing.sock", *extra)
    assert pamtester(missing, "alice", next_code(secret)) == 1
    assert pamtester(missing, "bob", "123456") == 1
    daemon.proc.send_signal(signal.SIGKILL)
    daemon.proc.wait(timeout=10)
    assert stat.S_ISSOCK(os.lstat(daemon.socket).st_mode)  # left behind: nobody listens
    stale = _socket_service(pam_service, daemon.socket, *extra)
    assert pamtester(stale, "alice", next_code(secret)) == 1


def test_daemon_down_falls_back_to_helper(tmp_path: Path, otpgate: Otpgate,
                                          pam_service: ServiceFactory) -> None:
    """With socket= unreachable and helper= set, the helper checks the code instead."""
    secret = otpgate.add_user("alice")
    service = _socket_service(pam_service, tmp_path / "missing.sock",
                              f"config={otpgate.env_file}", with_helper=True)
    code = next_code(secret)
    assert pamtester(service, "alice", code) == 0
    assert pamtester(service, "alice", code) == 1


def test_daemon_answer_is_final(tmp_path: Path, otpgate: Otpgate,
                                pam_service: ServiceFactory, daemon: Daemon) -> None:
    """With both options and a live daemon, its refusal is final: the helper is not asked.

    The helper here reads another database, where the code sent is right: had it been
    asked, the login would succeed.
    """
    otpgate.add_user("alice")
    values = otpgate_values(tmp_path / "other")
    other = build_context(Settings.from_env(values), migrate=True)
    try:
        other_secret = Otpgate(tmp_path / "other", otpgate.env_file, other).add_user("alice")
    finally:
        other.session_factory.kw["bind"].dispose()
    other_env = write_env_file(tmp_path / "other.env", values)
    service = _socket_service(pam_service, daemon.socket, f"config={other_env}",
                              with_helper=True)
    assert pamtester(service, "alice", next_code(other_secret)) == 1
    assert "refused user=alice rhost=- reason=wrong" in daemon.log_text()


def test_socket_is_root_only(daemon: Daemon) -> None:
    """The socket is 0600 in a 0700 directory, both owned by root."""
    sock, directory = os.lstat(daemon.socket), os.lstat(daemon.socket.parent)
    assert stat.S_ISSOCK(sock.st_mode) and stat.S_IMODE(sock.st_mode) == 0o600
    assert stat.S_IMODE(directory.st_mode) == 0o700
    assert sock.st_uid == directory.st_uid == 0


def _ask_as_nobody(path: Path, data: bytes) -> bytes:
    """Connect as uid/gid 65534 in a forked child and send ``data``; what came back, or an
    ``errno:NAME`` marker if the connection itself failed."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: drop to nobody, ask, report through the pipe, never return
        status = 0
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            try:
                answer = _exchange(path, data)
            except OSError as exc:
                answer = f"errno:{type(exc).__name__}".encode()
            os.write(write_end, answer)
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        answer = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return answer


def test_non_root_peer_refused(otpgate: Otpgate, pam_service: ServiceFactory,
                               daemon: Daemon) -> None:
    """A non-root process cannot connect; with the socket opened up by mistake, the daemon
    still refuses it (SO_PEERCRED) without checking the code."""
    secret = otpgate.add_user("alice")
    code = next_code(secret)
    for directory in (daemon.socket.parent.parent, daemon.socket.parent):
        directory.chmod(0o755)  # only the socket's own mode stands in the way now
    assert _ask_as_nobody(daemon.socket, _request("alice", code)) == b"errno:PermissionError"
    daemon.socket.chmod(0o666)
    answer = _ask_as_nobody(daemon.socket, _request("alice", code))
    assert answer == b"2 permission denied\n"
    assert f"uid={NOBODY}" in daemon.log_text()
    assert audit.query_audit(otpgate.ctx, username="alice", kind="login.code_failed") == []
    service = _socket_service(pam_service, daemon.socket)
    assert pamtester(service, "alice", code) == 0  # the code was never consumed


@pytest.mark.parametrize(
    "data",
    [
        b"\n",
        b"hello\n",
        b"otpgate-pam/2 user=61 rhost= service= answer=31\n",
        b"otpgate-pam/1 user=61 rhost= service= answer=3\n",  # odd hex
        b"otpgate-pam/1 user=61 rhost= service= answer=3G\n",
        b"otpgate-pam/1 user=61 rhost= service= answer=3A\n",  # upper case
        b"otpgate-pam/1 user= rhost= service= answer=31\n",  # no user
        b"otpgate-pam/1 user=6100 rhost= service= answer=31\n",  # NUL in user
        b"otpgate-pam/1 answer=31 user=61 rhost= service=\n",  # order
        b"otpgate-pam/1 user=61 rhost= service= answer=31\nmore\n",
        b"otpgate-pam/1 user=61 rhost= service= answer=31",  # no newline, then EOF
        b"otpgate-pam/1 user=61 rhost= service= answer=" + b"31" * 1025 + b"\n",
        b"x" * (MAX_REQUEST_BYTES + 100),
        b"\xff\xfe\x00\n",
    ],
    ids=["blank", "hello", "version", "odd-hex", "not-hex", "upper-hex", "no-user", "nul",
         "order", "trailing", "no-newline", "long-answer", "oversized", "binary"],
)
def test_malformed_requests_refused(otpgate: Otpgate, pam_service: ServiceFactory,
                                    daemon: Daemon, data: bytes) -> None:
    """A malformed request gets "2 bad request"; the daemon keeps answering afterwards."""
    secret = otpgate.add_user("alice")
    assert _exchange(daemon.socket, data).startswith(b"2 bad request: ")
    assert daemon.proc.poll() is None
    service = _socket_service(pam_service, daemon.socket)
    assert pamtester(service, "alice", next_code(secret)) == 0


def test_silent_client_times_out(daemon: Daemon) -> None:
    """A client that connects and sends nothing is answered "bad request" after the timeout."""
    assert _exchange(daemon.socket, b"", shut=False) == (
        b"2 bad request: no complete request within 1 s\n"
    )


def test_concurrent_same_code_accepted_once(otpgate: Otpgate, daemon: Daemon) -> None:
    """Eight simultaneous requests with one fresh code: exactly one is accepted."""
    secret = otpgate.add_user("alice")
    request = _request("alice", next_code(secret))
    answers: list[bytes] = []
    barrier = threading.Barrier(8)

    def ask() -> None:
        barrier.wait()
        answers.append(_exchange(daemon.socket, request))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    statuses = sorted(answer[:1] for answer in answers)
    assert statuses == [b"0"] + [b"1"] * 7


def test_second_daemon_and_unsafe_directory_refused(tmp_path: Path, daemon: Daemon) -> None:
    """A second daemon on a live socket, or a socket in a world-writable directory, does
    not start (exit 5, one line)."""
    otpgate_bin = str(Path(sys.executable).parent / "otpgate")
    second = subprocess.run([otpgate_bin, "pam-daemon", "--socket", str(daemon.socket)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert second.returncode == 5
    assert "another daemon is listening" in second.stderr
    open_dir = tmp_path / "open"
    open_dir.mkdir()
    open_dir.chmod(0o777)
    unsafe = subprocess.run([otpgate_bin, "pam-daemon", "--socket", str(open_dir / "s")],
                            capture_output=True, text=True, timeout=60, check=False)
    assert unsafe.returncode == 5
    assert "writable only by it" in unsafe.stderr
    assert unsafe.stderr.count("\n") == 1


def test_stop_removes_socket(daemon: Daemon) -> None:
    """SIGTERM stops the daemon cleanly (exit 0) and removes its socket."""
    daemon.proc.terminate()
    assert daemon.proc.wait(timeout=20) == 0
    assert not daemon.socket.exists()
    assert daemon.log_text().rstrip().endswith("stopped")
