"""Shared set-up of the page tests: a real app on a real database, driven like a browser.

Codes are computed with pyotp (an independent implementation) at the app's fixed clock.
Forms are filled from the HTML the app served, CSRF token included, as a browser would.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pyotp
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from otpgate.config import Settings
from otpgate.security.passwords import PasswordHasher
from otpgate.security.secretbox import KeyRing
from otpgate.service import enrolment, users
from otpgate.service import web_sessions as ws
from otpgate.service.admin_step_up import StepUpProof, verify_admin_step_up
from otpgate.service.clock import FixedClock
from otpgate.service.context import Context, Origin
from otpgate.service.views import UserView
from otpgate.store.db import make_session_factory
from otpgate.web.app import OtpgateApp, create_app
from otpgate.web.sessions import DEVICE_COOKIE, SESSION_COOKIE

__all__ = [
    "PASSWORD",
    "T0",
    "Portal",
    "csrf_of",
    "hidden_fields",
    "other_browser",
    "portal",
    "secret_on_page",
    "sites_portal",
]

T0 = 1_900_000_005.0
PASSWORD = "correct horse battery staple"
OPERATOR = Origin("cli", user_agent="cli:test")
BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_SECRET = re.compile(r'<code id="secret">([A-Z2-7 ]+)</code>')
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def secret_on_page(html: str) -> str:
    match = _SECRET.search(html)
    assert match, "the page shows no secret"
    return match.group(1).replace(" ", "")


def hidden_fields(html: str) -> dict[str, str]:
    """The hidden inputs of the page's forms (the CSRF token among them)."""
    return {name: unescape(value) for name, value in _HIDDEN.findall(html)}


def text_of(html: str) -> str:
    """The page's text with tags removed and entities decoded, spaces collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


@dataclass
class Portal:
    client: TestClient
    ctx: Context
    clock: FixedClock
    app: OtpgateApp
    secrets: dict[str, str] = field(default_factory=dict)

    # -- data set up through the service, as an operator would --------------------------
    def user(self, username: str, *, admin: bool = False, **extra: Any) -> UserView:
        return users.create_user(self.ctx, OPERATOR, username, PASSWORD, is_admin=admin, **extra)

    def enrolled(self, username: str, *, admin: bool = False) -> tuple[UserView, list[str]]:
        """A user with a confirmed authenticator (secret kept in ``self.secrets``) and
        their recovery codes; the clock then moves to the next step."""
        user = self.user(username, admin=admin)
        pending = enrolment.begin_enrolment(
            self.ctx, OPERATOR, user.id, step_up_at=self.ctx.now_dt(), name="phone"
        )
        codes = enrolment.confirm_enrolment(
            self.ctx, OPERATOR, user.id, pending.credential_id,
            self.code_for(pending.secret_b32), "phone",
        )
        self.secrets[username] = pending.secret_b32
        self.clock.advance(30)
        return users.get_user(self.ctx, user.id), codes

    def code_for(self, secret: str) -> str:
        return str(pyotp.TOTP(secret).at(int(self.clock.now())))

    def code(self, username: str) -> str:
        return self.code_for(self.secrets[username])

    def code_for_offset(self, username: str, seconds: int) -> str:
        """The code a phone whose clock is ``seconds`` off would show now."""
        return str(pyotp.TOTP(self.secrets[username]).at(int(self.clock.now()) + seconds))

    # -- browser actions ----------------------------------------------------------------
    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.client.get(path, **kw)

    def submit(self, page: str, action: str, data: dict[str, str], **kw: Any) -> httpx.Response:
        """GET ``page``, then POST ``data`` to ``action`` with the page's CSRF token."""
        shown = self.client.get(page)
        assert shown.status_code == 200, (page, shown.status_code)
        return self.client.post(action, data={"csrf_token": csrf_of(shown.text), **data}, **kw)

    def login(self, username: str, password: str = PASSWORD) -> httpx.Response:
        return self.submit("/login", "/login", {"username": username, "password": password})

    def full_login(self, username: str) -> None:
        """Log in through every step the account needs; ends on a full session."""
        first = self.login(username)
        assert first.status_code == 303, first.text
        if first.headers["location"] == "/login/2fa":
            done = self.submit("/login/2fa", "/login/2fa", {"code": self.code(username)})
            assert done.headers["location"] == "/", done.text
            self.clock.advance(30)

    def admin_ready(self, username: str = "root", *, step_up: bool = True) -> UserView:
        """An administrator with an authenticator, fully logged in in this browser, with
        (unless ``step_up`` is False) a fresh full step-up, as after confirming once."""
        user, _ = self.enrolled(username, admin=True)
        self.full_login(username)
        if step_up:
            self.step_up(username)
        return user

    def step_up(self, username: str) -> None:
        """Record a full step-up (password + current code, checked by the service) in this
        browser's session; the clock then moves to the next step."""
        view = ws.load_session(self.ctx, self.session_id)
        assert view is not None and view.user_id is not None
        proof = StepUpProof(PASSWORD, self.code(username))
        at = verify_admin_step_up(self.ctx, OPERATOR, view.user_id, proof)
        ws.record_step_up(self.ctx, view.id_hash, at, admin=True)
        self.clock.advance(30)

    def confirm_page(self, page: str, action: str, data: dict[str, str]) -> httpx.Response:
        """Submit an admin form: the answer is the confirmation page, nothing done yet."""
        shown = self.submit(page, action, data)
        assert shown.status_code == 200 and 'id="confirm-form"' in shown.text, shown.text
        return shown

    def confirmed(
        self, page: str, action: str, data: dict[str, str], *, as_user: str = "root"
    ) -> httpx.Response:
        """Submit an admin form, then confirm it on the confirmation page, stepping up
        with ``as_user``'s password and current code when the page asks for them."""
        shown = self.confirm_page(page, action, data)
        form = hidden_fields(shown.text)
        if 'id="step-up-password"' in shown.text:
            form["step_up_password"] = PASSWORD
            if 'id="step-up-code"' in shown.text:
                form["step_up_code"] = self.code(as_user)
        return self.client.post(action, data=form)

    def other_browser(self) -> Portal:
        """A second browser on the same portal (its own cookies), sharing data and clock."""
        client = TestClient(
            self.app, base_url="http://testserver", follow_redirects=False,
            headers={"User-Agent": BROWSER_UA},
        )
        client.base_url = self.client.base_url
        return Portal(client=client, ctx=self.ctx, clock=self.clock, app=self.app,
                      secrets=self.secrets)

    def logout(self) -> httpx.Response:
        return self.submit("/", "/logout", {})

    @property
    def session_id(self) -> str | None:
        return self.client.cookies.get(SESSION_COOKIE)

    @property
    def device_token(self) -> str | None:
        return self.client.cookies.get(DEVICE_COOKIE)


@contextmanager
def portal(engine: Engine, home: Path, **overrides: Any) -> Iterator[Portal]:
    """The portal (create_app) over the migrated empty test database, at a fixed time."""
    settings = Settings(
        home=home,
        database_url=engine.url.render_as_string(hide_password=False),
        argon2_time_cost=1,
        argon2_memory_kib=8,
        argon2_parallelism=1,
        **overrides,
    )
    clock = FixedClock(T0)
    ctx = Context(
        settings=settings,
        session_factory=make_session_factory(engine),
        keyring=KeyRing([("test", bytes(range(32)))]),
        hasher=PasswordHasher(time_cost=1, memory_kib=8, parallelism=1),
        clock=clock,
    )
    app = create_app(settings, ctx=ctx)
    with TestClient(
        app, base_url="http://testserver", follow_redirects=False,
        headers={"User-Agent": BROWSER_UA},
    ) as client:
        yield Portal(client=client, ctx=ctx, clock=clock, app=app)


@contextmanager
def sites_portal(engine: Engine, home: Path, sites: str) -> Iterator[Portal]:
    """The portal with this sites file, cookie domain example.com, reached as
    auth.example.com (its own host under the cookie domain, as in production)."""
    sites_file = home / "sites.toml"
    sites_file.write_text(sites, encoding="utf-8")
    with portal(engine, home, sites_file=sites_file, cookie_domain="example.com") as harness:
        harness.client.base_url = "http://auth.example.com"
        yield harness


@contextmanager
def other_browser(web: Portal) -> Iterator[Portal]:
    """:meth:`Portal.other_browser` for the length of a ``with`` block (then closed)."""
    second = web.other_browser()
    with second.client:
        yield second
