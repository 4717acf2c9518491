"""Browser end-to-end fixtures: one headless Chromium per session, one real ``otpgate serve``.

The server is the installed command run as a subprocess on a free loopback port, with its
own data directory and the cheap argon2 profile; the first administrator is created
through the one-time setup link the server prints, in the browser, as a person would.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

from conftest import need_tool
from otpgate_process import ServeProcess, free_port, otpgate_env

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


class _Server(ServeProcess):
    """``otpgate serve`` on a data directory of its own (no developer configuration).

    The browser reaches it at ``http://{host_name}:{port}``; ``public_url`` becomes its
    ``OTPGATE_BASE_URL`` (passkeys need a host name, and a secure context: localhost).
    """

    def __init__(
        self,
        home: Path,
        *,
        port: int | None = None,
        host_name: str = "127.0.0.1",
        public_url: str | None = None,
    ) -> None:
        extra = {} if public_url is None else {"OTPGATE_BASE_URL": public_url}
        super().__init__(otpgate_env(home, **extra), port=port)
        self.base_url = f"http://{host_name}:{self.port}"

    def setup_link(self) -> str:
        """Wait until the server listens and has printed its one-time setup link."""
        pattern = re.compile(rf"{re.escape(self.base_url)}/setup\?token=[A-Za-z0-9_-]+")
        deadline = time.monotonic() + _START_SECONDS
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail("otpgate serve exited:\n" + "".join(self.err))
            found = pattern.search("".join(self.out))
            if found and self.listening():
                return found[0]
            time.sleep(0.1)
        pytest.fail("no setup link within 30 s:\n" + "".join(self.out) + "".join(self.err))

    def wait_listening(self, seconds: float = _START_SECONDS) -> None:
        """Wait until the server accepts connections (a database with users prints no link)."""
        super().wait_listening(seconds)


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


@pytest.fixture(scope="module")
def passkey_portal(
    browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Portal, Path]]:
    """A portal whose public address is ``http://localhost:PORT`` (RP ID ``localhost``), and
    its data directory; the first administrator is created through the setup link."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    home = tmp_path_factory.mktemp("otpgate-passkeys")
    port = free_port()
    url = f"http://localhost:{port}"
    server = _Server(home, port=port, host_name="localhost", public_url=url)
    try:
        link = server.setup_link()
        portal = Portal(browser=browser, base_url=server.base_url, setup_link=link)
        portal.complete_setup(ADMIN, PASSWORD)
        yield portal, home
    finally:
        server.stop()


@pytest.fixture
def start_server() -> Iterator[Callable[..., _Server]]:
    """Start more ``otpgate serve`` processes in a test (stopped at its end)."""
    started: list[_Server] = []

    def start(home: Path, **options: Any) -> _Server:
        server = _Server(home, **options)
        started.append(server)
        server.wait_listening()
        return server

    yield start
    for server in started:
        server.stop()
