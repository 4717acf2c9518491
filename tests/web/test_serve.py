"""``otpgate serve`` as a real process: data directory, keys, schema, setup link, pages."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest

from live_server import live_server, server_env


@contextmanager
def _serving(home: Path, *args: str) -> Iterator[tuple[str, list[str]]]:
    """Run ``otpgate serve`` on a free loopback port; yield its base URL and stdout lines."""
    with live_server(server_env(home), *args) as server:
        yield server.base, server.stdout
    # Logs say where everything is.
    log = "".join(server.stderr)
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
    env = server_env(home)
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
