"""Browser end-to-end fixtures: one headless Chromium per session, one real ``otpgate serve``.

The server is the installed command run as a subprocess on a free loopback port, with its
own data directory and the cheap argon2 profile; the first administrator is created
through the one-time setup link the server prints, in the browser, as a person would.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

from conftest import need_tool

from .support import ADMIN, ARTIFACTS, PASSWORD, Portal

_CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
_START_SECONDS = 30


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Playwright]:
    """The Playwright driver (no browser of its own is ever downloaded)."""
    need_tool("chromium")
    driver = sync_playwright().start()
    try:
        yield driver
    finally:
        driver.stop()


@pytest.fixture(scope="session")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    """Debian's Chromium, headless, shared by every browser test of the session."""
    launched = playwright_driver.chromium.launch(
        executable_path=need_tool("chromium"),
        headless=True,
        args=_CHROMIUM_ARGS,
    )
    try:
        yield launched
    finally:
        launched.close()


class _Server:
    """``otpgate serve`` in a subprocess, its output collected by two reader threads."""

    def __init__(self, home: Path) -> None:
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "OTPGATE_HOME": str(home),
            "OTPGATE_ARGON2_TIME_COST": "1",
            "OTPGATE_ARGON2_MEMORY_KIB": "8",
            "OTPGATE_ARGON2_PARALLELISM": "1",
        }
        # A developer's own configuration must not leak into the test server.
        for name in ("OTPGATE_DATABASE_URL", "OTPGATE_SECRET_KEYS", "OTPGATE_BASE_URL"):
            env.pop(name, None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "otpgate", "serve", "--host", "127.0.0.1",
             "--port", str(self.port)],
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
    def _drain(stream: object, into: list[str]) -> None:
        for line in stream:  # type: ignore[attr-defined]
            into.append(line)

    def setup_link(self) -> str:
        """Wait until the server listens and has printed its one-time setup link."""
        pattern = re.compile(rf"{re.escape(self.base_url)}/setup\?token=[A-Za-z0-9_-]+")
        deadline = time.monotonic() + _START_SECONDS
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail("otpgate serve exited:\n" + "".join(self.err))
            found = pattern.search("".join(self.out))
            if found and self._listening():
                return found[0]
            time.sleep(0.1)
        pytest.fail("no setup link within 30 s:\n" + "".join(self.out) + "".join(self.err))

    def _listening(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def stop(self) -> None:
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


@pytest.fixture
def new_portal(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    """A second running portal on an empty database, for the first-run flow itself."""
    server = _Server(tmp_path_factory.mktemp("otpgate-new-home"))
    try:
        yield Portal(browser=browser, base_url=server.base_url, setup_link=server.setup_link())
    finally:
        server.stop()


@pytest.fixture(scope="session")
def portal(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    """A running portal whose first administrator was created through the setup link."""
    need_tool("zbarimg")
    need_tool("oathtool")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    server = _Server(tmp_path_factory.mktemp("otpgate-home"))
    try:
        link = server.setup_link()
        portal = Portal(browser=browser, base_url=server.base_url, setup_link=link)
        portal.complete_setup(ADMIN, PASSWORD)
        yield portal
    finally:
        server.stop()
