"""``otpgate serve`` as a real process for tests: started on a free port, stopped by signal."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx2

CHEAP_ARGON2 = {
    "OTPGATE_ARGON2_TIME_COST": "1",
    "OTPGATE_ARGON2_MEMORY_KIB": "8",
    "OTPGATE_ARGON2_PARALLELISM": "1",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def otpgate_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of an otpgate process on an embedded database in ``home``."""
    env = {**os.environ, "OTPGATE_HOME": str(home), **CHEAP_ARGON2, **extra}
    for name in ("OTPGATE_DATABASE_URL", "OTPGATE_SECRET_KEYS"):
        if name not in extra:
            env.pop(name, None)
    return env


@dataclass
class ServeProcess:
    """A running ``otpgate serve``; its output is collected line by line."""

    proc: subprocess.Popen[str]
    base: str
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    _readers: list[threading.Thread] = field(default_factory=list)

    @classmethod
    def start(
        cls, env: dict[str, str], *args: str, tls: ssl.SSLContext | None = None
    ) -> ServeProcess:
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "otpgate", "serve", "--host", "127.0.0.1", "--port",
             str(port), *args],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        scheme = "https" if tls is not None else "http"
        server = cls(proc, f"{scheme}://127.0.0.1:{port}")
        for stream, sink in ((proc.stdout, server.stdout), (proc.stderr, server.stderr)):
            reader = threading.Thread(target=sink.extend, args=(stream,), daemon=True)
            reader.start()
            server._readers.append(reader)
        server._wait_ready(tls)
        return server

    def _wait_ready(self, tls: ssl.SSLContext | None) -> None:
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                self.stop()
                raise AssertionError("otpgate serve exited:\n" + self.log)
            try:
                verify: ssl.SSLContext | bool = tls if tls is not None else True
                if httpx2.get(f"{self.base}/login", timeout=1, verify=verify).status_code == 200:
                    return
            except httpx2.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError("otpgate serve did not start:\n" + self.log)
            time.sleep(0.2)

    @property
    def port(self) -> int:
        return int(self.base.rsplit(":", 1)[1])

    @property
    def log(self) -> str:
        return "".join(self.stderr)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Send ``signum`` (unless it has exited), wait, and return the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        for reader in self._readers:
            reader.join(timeout=5)
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.proc.stdout.close()
        self.proc.stderr.close()
        return code
