"""Real ``python -m otpgate`` processes for tests: a clean environment, and ``serve`` with
its output collected as it comes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

__all__ = ["ServeProcess", "free_port", "otpgate_env"]


def otpgate_env(home: Path, **extra: str) -> dict[str, str]:
    """This process's environment without any ``OTPGATE_*`` variable of the developer's,
    then the data directory ``home``, the cheap argon2 profile and ``extra``."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OTPGATE_")}
    environ.update(
        OTPGATE_HOME=str(home),
        OTPGATE_ARGON2_TIME_COST="1",
        OTPGATE_ARGON2_MEMORY_KIB="8",
        OTPGATE_ARGON2_PARALLELISM="1",
        **extra,
    )
    return environ


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class ServeProcess:
    """``otpgate serve`` on a free loopback port, stdout and stderr read by two threads."""

    def __init__(self, env: dict[str, str], *args: str, port: int | None = None) -> None:
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "otpgate", "serve", "--host", "127.0.0.1",
             "--port", str(self.port), *args],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [
            threading.Thread(target=self._drain, args=(self.proc.stdout, self.out), daemon=True),
            threading.Thread(target=self._drain, args=(self.proc.stderr, self.err), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _drain(stream: IO[str] | None, into: list[str]) -> None:
        assert stream is not None
        for line in stream:
            into.append(line)

    def listening(self) -> bool:
        """True once the server accepts connections."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def wait_listening(self, seconds: float) -> None:
        """Wait until the server listens; AssertionError (with its stderr) if it exits or
        does not within ``seconds``."""
        deadline = time.monotonic() + seconds
        while not self.listening():
            assert self.proc.poll() is None, "otpgate serve exited:\n" + "".join(self.err)
            assert time.monotonic() < deadline, "server did not start:\n" + "".join(self.err)
            time.sleep(0.1)

    def stop(self) -> None:
        """Terminate the server (kill it if it does not stop) and close its pipes."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for reader in self._readers:
            reader.join(timeout=5)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
