"""What the browser tests do as people: fill the portal's forms, read QR codes, type codes.

Codes come from ``oathtool`` (Debian's oathtool package) and QR codes are read by
``zbarimg`` (zbar-tools) from a screenshot of the page: neither is our own code. A code is
computed for an explicit instant, so the test knows its time step and can wait for a
fresh step when the server would rightly call the code a replay.
"""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pyotp
from playwright.sync_api import Browser, BrowserContext, Page, expect

__all__ = [
    "ADMIN",
    "ARTIFACTS",
    "PASSWORD",
    "PERIOD",
    "Enrolled",
    "Portal",
    "code_at",
    "confirm_with_step_up",
    "create_user",
    "enrol",
    "fresh_code",
    "label_of",
    "log_in",
    "log_in_admin",
    "log_out",
    "read_qr",
    "secret_of",
    "shot",
    "step_up_if_asked",
    "wrong_code",
]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
ADMIN = "root"
PASSWORD = "a long enough password"
PERIOD = 30
_TIMEOUT_MS = 10_000


def shot(page: Page, name: str) -> Path:
    """Keep a full-page screenshot as a test artifact; return its path."""
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def code_at(secret: str, unix_time: float) -> str:
    """The TOTP code of ``secret`` at ``unix_time``, computed by oathtool."""
    done = subprocess.run(
        ["oathtool", "--totp", "-b", "-N", f"@{int(unix_time)}", secret],
        capture_output=True, text=True, check=True, timeout=10,
    )
    return done.stdout.strip()


def fresh_code(secret: str, used_step: int) -> tuple[str, int]:
    """A code of a time step after ``used_step`` (waiting for it, at most one period)."""
    now = time.time()
    step = int(now // PERIOD)
    if step <= used_step:
        # Bounded: a step later than the one used is at most one period away.
        wait = (used_step + 1) * PERIOD - now + 0.2
        assert wait <= PERIOD + 1, "the used step is in the future"
        time.sleep(wait)
        now = time.time()
        step = int(now // PERIOD)
    return code_at(secret, now), step


def wrong_code(secret: str) -> str:
    """Six digits that are none of the codes the server accepts around now."""
    now = time.time()
    near = {code_at(secret, now + k * PERIOD) for k in range(-2, 3)}
    return next(c for c in ("000000", "111111", "222222") if c not in near)


@dataclass(frozen=True)
class Enrolled:
    """An authenticator set up in the browser: its secret and the step its code used."""

    secret: str
    uri: str
    step: int
    recovery_codes: list[str]


@dataclass
class Portal:
    """The running portal and the browser that visits it."""

    browser: Browser
    base_url: str
    setup_link: str
    admin_secret: str = ""
    admin_step: int = 0  # the last time step whose admin code the server accepted

    def admin_code(self) -> str:
        """A code of the administrator's authenticator not used before (may wait a step)."""
        code, self.admin_step = fresh_code(self.admin_secret, self.admin_step)
        return code

    def context(self, *, locale: str = "en-GB", bypass_csp: bool = False) -> BrowserContext:
        """A fresh browser profile (own cookies) whose Accept-Language follows ``locale``.

        ``bypass_csp`` lets a test inject a checking script (axe-core) into the pages.
        """
        ctx = self.browser.new_context(
            base_url=self.base_url, locale=locale, viewport={"width": 1000, "height": 800},
            bypass_csp=bypass_csp,
        )
        ctx.set_default_timeout(_TIMEOUT_MS)
        return ctx

    def complete_setup(self, username: str, password: str, shots: str = "01-setup") -> None:
        """Create the first administrator through the printed one-time link: the new admin
        is logged in at once and led to enrolment (2FA is required of admins), scans the
        QR code and confirms with a code computed by pyotp; the secret is kept."""
        with self.context() as ctx:
            page = ctx.new_page()
            page.goto(self.setup_link)
            page.get_by_label("Username").fill(username)
            page.get_by_label("Password", exact=True).fill(password)
            page.get_by_label("Password again").fill(password)
            shot(page, shots)
            page.get_by_role("button", name="Create account").click()
            expect(page).to_have_url(re.compile(r"/security/enable$"))
            expect(page.locator("#notice")).to_contain_text("administrator account is ready")
            # Enrolment is all this session may do until 2FA is on.
            page.goto("/admin/users")
            expect(page).to_have_url(re.compile(r"/security/enable$"))
            secret = secret_of(read_qr(page, f"{shots}-qr"))
            assert page.locator("#secret").inner_text().replace(" ", "") == secret
            shot(page, f"{shots}-enrol")
            now = time.time()
            page.get_by_label("Authenticator name").fill("Pixel 8")
            page.get_by_label("Code shown by the app").fill(pyotp.TOTP(secret).at(int(now)))
            page.get_by_role("button", name="Turn on").click()
            expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
            page.goto("/")
            expect(page.locator("#twofa-status")).to_have_text("On")
            expect(page.locator("#nav-admin")).to_be_visible()
            self.admin_secret, self.admin_step = secret, int(now // PERIOD)


def create_user(admin: Page, username: str, display_name: str) -> int:
    """As a logged-in administrator, create an account; return its id."""
    admin.goto("/admin/users/new")
    admin.get_by_label("Username").fill(username)
    admin.get_by_label("Display name").fill(display_name)
    admin.get_by_label("E-mail").fill(f"{username}@example.org")
    admin.get_by_label("Initial password").fill(PASSWORD)
    admin.locator("#new-user-submit").click()
    expect(admin.locator("#subject-username")).to_have_text(username)
    return int(admin.url.rstrip("/").rsplit("/", 1)[1])


def log_in(page: Page, username: str, password: str = PASSWORD) -> None:
    """Submit the login form (the page it lands on depends on the account)."""
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def log_in_admin(page: Page, portal: Portal) -> None:
    """Log the administrator in: password, then a fresh code of their authenticator."""
    log_in(page, ADMIN)
    expect(page).to_have_url(re.compile(r"/login/2fa$"))
    page.locator("#code").fill(portal.admin_code())
    page.locator("#twofa-submit").click()


def confirm_with_step_up(page: Page, portal: Portal) -> None:
    """On an admin action's confirmation page: step up if asked, then confirm."""
    expect(page.locator("#confirm-form")).to_be_visible()
    if page.locator("#step-up-password").count():
        page.get_by_label("Your password").fill(PASSWORD)
        page.get_by_label("Current code").fill(portal.admin_code())
    page.locator("#confirm-submit").click()


def log_out(page: Page) -> None:
    """Press "Log out" in the top bar."""
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"))


def step_up_if_asked(page: Page, password: str = PASSWORD) -> None:
    """Type the password again when the portal asks for it (a step-up)."""
    if "/security/step-up" in page.url:
        expect(page.get_by_role("heading", name="Confirm your password")).to_be_visible()
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Continue").click()


def read_qr(page: Page, name: str) -> str:
    """Screenshot the QR code on the page and decode it with zbarimg."""
    path = ARTIFACTS / f"{name}.png"
    page.locator("#qr svg").screenshot(path=str(path))
    done = subprocess.run(
        ["zbarimg", "--raw", "-q", str(path)],
        capture_output=True, text=True, check=False, timeout=20,
    )
    assert done.returncode == 0, f"zbarimg could not read {path}: {done.stderr}"
    return done.stdout.strip()


def secret_of(uri: str) -> str:
    """The base32 secret of an otpauth:// URI (parsed with the standard library)."""
    parts = urlsplit(uri)
    assert parts.scheme == "otpauth" and parts.netloc == "totp", uri
    return parse_qs(parts.query)["secret"][0]


def label_of(uri: str) -> str:
    """The decoded label (``issuer:account``) of an otpauth:// URI."""
    return unquote(urlsplit(uri).path.lstrip("/"))


def enrol(page: Page, name: str, shot_name: str, *, first: bool) -> Enrolled:
    """From any full page: add an authenticator called ``name``, scanning its QR code.

    The first authenticator turns 2FA on and shows the recovery codes; a later one
    brings the user back to the security page.
    """
    page.goto("/security")
    page.locator("#enable-2fa").click()
    step_up_if_asked(page)
    expect(page.locator("#qr svg")).to_be_visible()
    uri = read_qr(page, f"{shot_name}-qr")
    shot(page, shot_name)
    secret = secret_of(uri)
    shown = page.locator("#secret").inner_text()
    assert shown.replace(" ", "") == secret, "the key for manual entry is not the QR's"
    now = time.time()
    page.get_by_label("Authenticator name").fill(name)
    page.get_by_label("Code shown by the app").fill(code_at(secret, now))
    page.get_by_role("button", name="Turn on").click()
    codes: list[str] = []
    if first:
        expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
        codes = page.locator("#recovery-codes code").all_inner_texts()
    else:
        expect(page.locator("#notice")).to_have_text("The authenticator was added.")
    return Enrolled(secret=secret, uri=uri, step=int(now // PERIOD), recovery_codes=codes)
