"""``otpgate serve`` as a real process: data directory, keys, schema, setup link, pages."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def _serving(home: Path, *args: str) -> Iterator[tuple[str, list[str]]]:
    """Run ``otpgate serve`` on a free loopback port; yield its base URL and stdout lines."""
    port = _free_port()
    env = {
        **os.environ,
        "OTPGATE_HOME": str(home),
        "OTPGATE_ARGON2_TIME_COST": "1",
        "OTPGATE_ARGON2_MEMORY_KIB": "8",
        "OTPGATE_ARGON2_PARALLELISM": "1",
    }
    env.pop("OTPGATE_DATABASE_URL", None)
    env.pop("OTPGATE_SECRET_KEYS", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "otpgate", "serve", "--port", str(port), *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    lines: list[str] = []
    errors: list[str] = []
    assert proc.stdout is not None and proc.stderr is not None
    readers = [
        threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True),  # type: ignore[arg-type]
        threading.Thread(target=lambda: errors.extend(proc.stderr), daemon=True),  # type: ignore[arg-type]
    ]
    for reader in readers:
        reader.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, "".join(errors)
            try:
                if httpx2.get(f"{base}/login", timeout=1).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not start:\n" + "".join(errors)
            time.sleep(0.2)
        yield base, lines
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
        # Logs say where everything is.
        log = "".join(errors)
        assert "data directory:" in log and "database: sqlite:///" in log


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_from_nothing_prints_a_setup_link_that_works(tmp_path: Path, workers: str) -> None:
    """A fresh home gets a database, a key file and a one-time setup link that opens the form."""
    home = tmp_path / "home"
    with _serving(home, "--workers", workers) as (base, lines):
        output = "".join(lines)
        link = re.search(rf"{re.escape(base)}/setup\?token=[A-Za-z0-9_-]+", output)
        assert link, output
        page = httpx2.get(link[0])
        assert page.status_code == 200 and 'id="setup-form"' in page.text
        assert (home / "otpgate.db").exists()
        assert (home / "secret.keys").stat().st_mode & 0o077 == 0


def test_serve_with_an_existing_account_prints_no_link(tmp_path: Path) -> None:
    """Once an account exists, no setup link is printed and /setup says setup is done."""
    home = tmp_path / "home"
    env = {**os.environ, "OTPGATE_HOME": str(home), "OTPGATE_ARGON2_TIME_COST": "1",
           "OTPGATE_ARGON2_MEMORY_KIB": "8", "OTPGATE_ARGON2_PARALLELISM": "1"}
    env.pop("OTPGATE_DATABASE_URL", None)
    env.pop("OTPGATE_SECRET_KEYS", None)
    added = subprocess.run(
        [sys.executable, "-m", "otpgate", "user", "add", "--admin", "root",
         "--password-stdin"],
        input="a long enough password\n", env=env, capture_output=True, text=True, check=False,
    )
    if added.returncode != 0:
        pytest.fail(f"otpgate user add failed: {added.stderr}")
    with _serving(home) as (base, lines):
        assert "setup?token=" not in "".join(lines)
        assert httpx2.get(f"{base}/setup").status_code == 404
