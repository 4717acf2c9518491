"""``otpgate pam-daemon``: answer ``pam_otpgate.so`` over a Unix socket, without a process
per login.

Each SSH check through ``otpgate pam`` starts Python and imports the service and
SQLAlchemy again; this daemon does that once and keeps a warm database pool. A check
runs the very same function as the helper (:func:`otpgate.pam.helper.check`), so the
rules, the replay guard, the throttle and the audit rows are the same.

Who may ask: the socket is ``0600`` and owned by the daemon's user (root), in a
directory nobody else can write to, and every connection's peer credentials
(``SO_PEERCRED``) must be uid 0 (``sshd`` runs PAM as root) or it is refused. A
request is one bounded line read with a deadline (:mod:`otpgate.pam.protocol`); a
small pool of threads answers, and no more connections are accepted than it has
threads, so a stuck client cannot make the daemon grow.
"""

from __future__ import annotations

import os
import socket
import stat
import struct
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext, suppress
from pathlib import Path
from typing import TYPE_CHECKING

from otpgate.pam.errors import DaemonSetupError, ProtocolError
from otpgate.pam.helper import EXIT_USAGE, Verdict, check
from otpgate.pam.protocol import MAX_REQUEST_BYTES, encode_response, parse_request

if TYPE_CHECKING:
    from otpgate.service.context import Context

__all__ = ["DEFAULT_SOCKET", "PamDaemon", "listen", "peer_credentials"]

DEFAULT_SOCKET = Path("/run/otpgate/pam.sock")
_POLL_SECONDS = 0.5  # how soon the accept loop notices a stop request
_CREDENTIALS = struct.Struct("3i")  # struct ucred: pid, uid, gid


def peer_credentials(conn: socket.socket) -> tuple[int, int, int]:
    """(pid, uid, gid) of the process at the other end of a Unix socket."""
    raw = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CREDENTIALS.size)
    pid, uid, gid = _CREDENTIALS.unpack(raw)
    return pid, uid, gid


def _check_directory(directory: Path) -> None:
    """The socket's directory must exist (created 0700 if missing) and be ours alone."""
    try:
        directory.mkdir(mode=0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise DaemonSetupError(f"{directory}: {exc.strerror}") from None
    info = os.lstat(directory)
    if not stat.S_ISDIR(info.st_mode):
        raise DaemonSetupError(f"{directory}: not a directory")
    # Whoever can write here can replace the socket with their own and answer "yes".
    if info.st_uid != os.geteuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise DaemonSetupError(
            f"{directory}: must be owned by uid {os.geteuid()} and writable only by it"
        )


def _clear_stale(path: Path) -> None:
    """Remove a socket left by a daemon that died; refuse to take over a live one."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(info.st_mode):
        raise DaemonSetupError(f"{path} exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(str(path))
    except OSError:
        path.unlink()
        return
    finally:
        probe.close()
    raise DaemonSetupError(f"{path}: another daemon is listening there")


def listen(path: Path, *, backlog: int = 64) -> socket.socket:
    """A listening Unix socket at ``path``, mode 0600, in a directory only we can write."""
    if not path.is_absolute():
        raise DaemonSetupError(f"{path}: the socket path must be absolute")
    _check_directory(path.parent)
    _clear_stale(path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)  # no moment where the socket is open to others
    try:
        server.bind(str(path))
    except OSError as exc:
        server.close()
        raise DaemonSetupError(f"{path}: {exc.strerror or exc}") from None
    finally:
        os.umask(old_umask)
    os.chmod(path, 0o600)
    server.listen(backlog)
    server.settimeout(_POLL_SECONDS)
    return server


def _read_line(conn: socket.socket, timeout: float) -> bytes:
    """One request line: at most MAX_REQUEST_BYTES, within ``timeout`` seconds in all."""
    deadline = time.monotonic() + timeout
    data = b""
    while b"\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            raise ProtocolError(f"no complete request within {timeout:g} s")
        conn.settimeout(left)
        try:
            chunk = conn.recv(MAX_REQUEST_BYTES + 1 - len(data))
        except TimeoutError:
            raise ProtocolError(f"no complete request within {timeout:g} s") from None
        if not chunk:
            raise ProtocolError("connection closed before a complete request")
        data += chunk
        if len(data) > MAX_REQUEST_BYTES:
            raise ProtocolError(f"request longer than {MAX_REQUEST_BYTES} bytes")
    return data


class PamDaemon:
    """Answers check requests on a listening socket with a long-lived service context."""

    def __init__(
        self,
        listener: socket.socket,
        ctx: Context,
        *,
        user_map: Path | None = None,
        workers: int = 4,
        read_timeout: float = 5.0,
        log: Callable[[str], None],
        allowed_uid: int = 0,
    ) -> None:
        self._listener = listener
        self._ctx = ctx
        self._user_map = user_map
        self._workers = workers
        self._read_timeout = read_timeout
        self._emit = log
        self._allowed_uid = allowed_uid
        self._slots = threading.BoundedSemaphore(workers)

    def _log(self, message: str) -> None:
        # A user name comes from the SSH client: no control character reaches the log.
        self._emit("".join(ch if " " <= ch <= "~" else "?" for ch in message))

    def serve(self, stop: threading.Event) -> None:
        """Accept and answer connections until ``stop`` is set; in-flight checks finish."""
        with ThreadPoolExecutor(self._workers, thread_name_prefix="otpgate-pam") as pool:
            while not stop.is_set():
                if not self._slots.acquire(timeout=_POLL_SECONDS):
                    continue
                try:
                    conn, _ = self._listener.accept()
                except TimeoutError:
                    self._slots.release()
                    continue
                except OSError as exc:  # e.g. out of file descriptors: breathe, go on
                    self._slots.release()
                    self._log(f"accept failed: {exc.strerror or exc}")
                    stop.wait(_POLL_SECONDS)
                    continue
                pool.submit(self._answer, conn)

    def _answer(self, conn: socket.socket) -> None:
        try:
            with conn:
                self._handle(conn)
        except Exception as exc:  # one broken connection must not stop the others
            self._log(f"connection failed: {type(exc).__name__}")
        finally:
            self._slots.release()

    def _handle(self, conn: socket.socket) -> None:
        pid, uid, _gid = peer_credentials(conn)
        if uid != self._allowed_uid:
            self._log(f"refused connection from pid={pid} uid={uid}: only uid "
                      f"{self._allowed_uid} may ask")
            self._send(conn, Verdict(EXIT_USAGE, "permission denied"))
            return
        try:
            request = parse_request(_read_line(conn, self._read_timeout))
        except ProtocolError as exc:
            self._log(f"bad request from pid={pid}: {exc}")
            self._send(conn, Verdict(EXIT_USAGE, f"bad request: {exc}"))
            return
        verdict = check(request, user_map=self._user_map, context=lambda: nullcontext(self._ctx))
        self._log(f"{verdict.message} pid={pid}")
        self._send(conn, verdict)

    def _send(self, conn: socket.socket, verdict: Verdict) -> None:
        conn.settimeout(self._read_timeout)
        # A module that gave up (its time-out) refuses on its side: nothing to do here.
        with suppress(OSError):
            conn.sendall(encode_response(verdict))
