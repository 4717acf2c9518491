"""One person's two-factor story in a real browser, step by step, against ``otpgate serve``.

The steps run in file order and share one account, one browser profile for it and one for
the administrator: each step starts where the previous one left off, as a person would.
Codes never come from our own code (oathtool), QR codes are read from screenshots
(zbarimg). A code is good once per authenticator and 30-second step, and confirming an
authenticator spends the current step: the story waits once for a fresh step and then
uses several authenticators (and recovery codes) where it needs more codes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from .support import (
    ADMIN,
    PASSWORD,
    Enrolled,
    Portal,
    confirm_with_step_up,
    enrol,
    fresh_code,
    label_of,
    log_in,
    log_in_admin,
    log_out,
    shot,
    step_up_if_asked,
    wrong_code,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

USER = "alice"
HOME = re.compile(r"/$")
TWO_FACTOR = re.compile(r"/login/2fa$")
NOTE = "Checked her staff badge and passport at the help desk."


@dataclass
class Journey:
    """What the steps hand on to each other."""

    user: Page
    admin: Page
    portal: Portal
    done: set[str] = field(default_factory=set)
    phone: Enrolled | None = None
    backup: Enrolled | None = None
    tablet: Enrolled | None = None

    def after(self, *steps: str) -> None:
        """Fail at once (not with a confusing timeout) when an earlier step failed."""
        missing = [s for s in steps if s not in self.done]
        if missing:
            pytest.fail(f"an earlier step failed: {', '.join(missing)}")


@pytest.fixture(scope="module")
def journey(portal: Portal) -> Iterator[Journey]:
    """Two browser profiles on one portal: the user's and the administrator's."""
    user_ctx: BrowserContext = portal.context()
    admin_ctx: BrowserContext = portal.context()
    try:
        yield Journey(user=user_ctx.new_page(), admin=admin_ctx.new_page(), portal=portal)
    finally:
        user_ctx.close()
        admin_ctx.close()


def test_admin_creates_a_user_who_logs_in_with_password_only(journey: Journey) -> None:
    """An account made on the admin pages logs in with its password; 2FA shows as off."""
    admin = journey.admin
    log_in_admin(admin, journey.portal)
    expect(admin).to_have_url(HOME)
    admin.locator("#nav-admin").click()
    admin.get_by_role("link", name="New user").click()
    admin.get_by_label("Username").fill(USER)
    admin.get_by_label("Display name").fill("Alice Martin")
    admin.get_by_label("Initial password").fill(PASSWORD)
    admin.get_by_role("button", name="Create account").click()
    expect(admin.locator("#notice")).to_have_text("The account was created.")
    expect(admin.locator("#subject-username")).to_have_text(USER)

    page = journey.user
    log_in(page, USER)
    expect(page).to_have_url(HOME)
    expect(page.get_by_role("heading", name="Welcome, Alice Martin")).to_be_visible()
    expect(page.locator("#twofa-status")).to_have_text("Off")
    journey.done.add("user")


def test_enabling_2fa_scans_the_qr_code_and_shows_recovery_codes(journey: Journey) -> None:
    """Enabling asks the password again, shows a QR code apps can read, then recovery codes."""
    journey.after("user")
    page = journey.user
    page.goto("/security")
    expect(page.locator("#twofa-status")).to_contain_text("Off")
    page.get_by_role("link", name="Enable two-factor authentication").click()
    expect(page).to_have_url(re.compile(r"/security/step-up"))
    shot(page, "03-step-up")
    step_up_if_asked(page)

    phone = enrol(page, "My phone", "04-enable-qr", first=True)
    assert label_of(phone.uri) == f"otpgate:{USER}"
    assert len(phone.secret) == 32  # 160 bits, no padding
    assert phone.uri.count("algorithm=SHA1") == 1 or "algorithm" not in phone.uri
    expect(page.locator("#notice")).to_have_text("Two-factor authentication is on.")
    assert len(phone.recovery_codes) >= 8
    assert all(re.fullmatch(r"[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}", c)
               for c in phone.recovery_codes)
    shot(page, "05-recovery-codes")
    # Reloading the page shows the same codes again, without an error.
    page.reload()
    expect(page.locator("#recovery-codes code")).to_have_text(phone.recovery_codes)
    expect(page.locator("#error")).to_have_count(0)
    page.get_by_role("button", name="I have saved them").click()
    expect(page.locator("#authenticators")).to_contain_text("My phone")
    journey.phone = phone
    journey.done.add("enrolled")


def test_login_now_asks_for_the_code_and_refuses_a_wrong_one(journey: Journey) -> None:
    """After the password the code page comes; it guards other pages and refuses a bad code."""
    journey.after("enrolled")
    assert journey.phone is not None
    page = journey.user
    log_out(page)
    log_in(page, USER)
    expect(page).to_have_url(TWO_FACTOR)
    expect(page.get_by_role("heading", name="Two-factor authentication")).to_be_visible()
    field_ = page.get_by_label("Enter the 6-digit code from your authenticator app")
    expect(field_).to_have_attribute("placeholder", "123456")
    expect(field_).to_have_attribute("inputmode", "numeric")
    expect(field_).to_have_attribute("autocomplete", "one-time-code")
    expect(field_).to_be_focused()
    expect(page.get_by_label("Trust this device for 30 days")).not_to_be_checked()
    expect(page.get_by_role("button", name="Cancel")).to_be_visible()
    shot(page, "06-code-page")

    # A half-logged-in session reaches nothing but the code page.
    page.goto("/security")
    expect(page).to_have_url(TWO_FACTOR)

    field_.fill(wrong_code(journey.phone.secret))
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#error")).to_have_text(
        "That code is not valid. Check your authenticator and try again."
    )
    expect(page.locator("#code")).to_have_attribute("aria-invalid", "true")
    shot(page, "07-wrong-code")
    journey.done.add("asks-code")


def test_a_recovery_code_logs_in_once(journey: Journey) -> None:
    """A recovery code replaces the code once; the same recovery code is then refused."""
    journey.after("asks-code")
    assert journey.phone is not None
    first = journey.phone.recovery_codes[0]
    page = journey.user
    page.get_by_role("link", name="Use a recovery code").click()
    page.get_by_label("Recovery code").fill(first.upper().replace("-", " "))
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(HOME)
    left = len(journey.phone.recovery_codes) - 1
    expect(page.locator("#notice")).to_have_text(
        f"You used a recovery code. {left} recovery codes are left."
    )

    log_out(page)
    log_in(page, USER)
    page.get_by_role("link", name="Use a recovery code").click()
    page.get_by_label("Recovery code").fill(first)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#error")).to_contain_text("already used")
    expect(page).to_have_url(re.compile(r"/login/recovery$"))
    shot(page, "08-recovery-code-reused")
    journey.done.add("recovery")


def test_more_authenticators_are_added_beside_the_first(journey: Journey) -> None:
    """With another recovery code the user gets in and adds a "Backup phone" and a "Tablet"."""
    journey.after("recovery")
    assert journey.phone is not None
    page = journey.user
    page.get_by_label("Recovery code").fill(journey.phone.recovery_codes[1])
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(HOME)

    backup = enrol(page, "Backup phone", "09-add-backup-qr", first=False)
    tablet = enrol(page, "Tablet", "09-add-tablet-qr", first=False)
    assert len({journey.phone.secret, backup.secret, tablet.secret}) == 3
    rows = page.locator("#authenticators > li")
    expect(rows).to_have_count(3)
    for row, name in zip(rows.all(), ["My phone", "Backup phone", "Tablet"], strict=True):
        expect(row).to_contain_text(name)
    shot(page, "10-three-authenticators")
    journey.backup, journey.tablet = backup, tablet
    journey.done.add("more")


def test_a_correct_code_logs_in_and_the_same_code_is_then_refused(journey: Journey) -> None:
    """A fresh code of the first phone logs in; typed again at a new login it is a replay."""
    journey.after("more")
    assert journey.phone is not None and journey.backup is not None
    assert journey.tablet is not None
    page = journey.user
    log_out(page)
    # Every confirming code spent its step: login codes must come from a later one. This
    # is the one wait of the story; the three authenticators then give three codes of
    # that step, one for each use that follows.
    spent = max(journey.phone.step, journey.backup.step, journey.tablet.step)
    code, _ = fresh_code(journey.phone.secret, spent)
    log_in(page, USER)
    page.locator("#code").fill(code)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(HOME)
    expect(page.locator("#twofa-status")).to_have_text("On")

    log_out(page)
    log_in(page, USER)
    page.locator("#code").fill(code)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#error")).to_have_text(
        "This code was already used. Wait for the next code and try again."
    )
    expect(page).to_have_url(TWO_FACTOR)
    shot(page, "11-code-replayed")
    journey.done.add("code")


def test_the_backup_phone_logs_in_and_the_first_phone_is_removed(journey: Journey) -> None:
    """The backup phone's code logs in (trusting the device); "My phone" is then removed
    with a code of another authenticator (the tablet)."""
    journey.after("code")
    assert journey.backup is not None and journey.tablet is not None
    page = journey.user
    # Neither gave a code of this step yet: no wait.
    code, _ = fresh_code(journey.backup.secret, journey.backup.step)
    page.locator("#code").fill(code)
    page.get_by_label("Trust this device for 30 days").check()
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(HOME)

    page.goto("/security")
    expect(page.locator("#devices > li")).to_have_count(1)
    proof, _ = fresh_code(journey.tablet.secret, journey.tablet.step)
    _remove(page, "My phone", proof)
    if "/security/step-up" in page.url:
        # A refused step-up consumes no code: the same proof is typed again after it.
        step_up_if_asked(page)
        _remove(page, "My phone", proof)
    expect(page.locator("#notice")).to_have_text("The authenticator was removed.")
    rows = page.locator("#authenticators > li")
    expect(rows).to_have_count(2)
    expect(page.locator("#authenticators")).not_to_contain_text("My phone")
    shot(page, "12-security-after-removal")
    journey.done.add("trusted")


def _remove(page: Page, name: str, proof: str) -> None:
    """Open the authenticator's page ("Manage") and remove it with a code of another one."""
    page.goto("/security")
    page.get_by_role("link", name=f"Manage {name}").click()
    expect(page.get_by_role("heading", name=name, exact=True)).to_be_visible()
    page.get_by_label("Code from another authenticator").fill(proof)
    page.get_by_role("button", name="Remove", exact=True).click()
    page.wait_for_load_state()


def test_a_trusted_device_skips_the_code(journey: Journey) -> None:
    """From the trusted browser, the password alone logs in though 2FA is on."""
    journey.after("trusted")
    page = journey.user
    log_out(page)
    log_in(page, USER)
    expect(page).to_have_url(HOME)
    expect(page.locator("#twofa-status")).to_have_text("On")
    journey.done.add("skipped")


def test_an_admin_reset_removes_2fa_and_is_in_the_audit_log(journey: Journey) -> None:
    """The admin resets the user's 2FA with an identity-check note; the audit log shows it."""
    journey.after("skipped")
    admin = journey.admin
    admin.goto("/admin/users")
    admin.locator(f"#user-{USER}").click()
    expect(admin.locator("#subject-2fa")).to_have_text("On")
    reset = admin.get_by_role("region", name="Reset two-factor authentication")
    reset.get_by_label(re.compile(r"How did you check the person's identity")).fill(NOTE)
    reset.get_by_role("button", name="Reset two-factor authentication").click()
    # A confirmation page names the account; the admin steps up (password + code).
    expect(admin.locator("#confirm-target")).to_have_text(f"{USER} (Alice Martin)")
    shot(admin, "13-confirm-reset")
    confirm_with_step_up(admin, journey.portal)
    expect(admin.locator("#notice")).to_have_text(
        "Two-factor authentication was reset for this account."
    )
    expect(admin.locator("#subject-2fa")).to_have_text("Off")

    admin.locator("#admin-audit").click()
    admin.get_by_label("User").fill(USER)
    admin.get_by_label("Event").select_option("2fa.reset")
    admin.get_by_role("button", name="Filter").click()
    rows = admin.locator("#audit tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.nth(0)).to_contain_text(NOTE)
    expect(rows.nth(0)).to_contain_text(ADMIN)
    shot(admin, "14-audit-reset")

    # The reset ended the user's open session at once: the next page asks for a login.
    page = journey.user
    page.goto("/security")
    expect(page).to_have_url(re.compile(r"/login$"))
    # It also forgot the trusted device: the user logs in with the password only.
    log_in(page, USER)
    expect(page).to_have_url(HOME)
    expect(page.locator("#twofa-status")).to_have_text("Off")
    page.goto("/security")
    expect(page.locator("#devices")).to_have_count(0)
    expect(page.get_by_text("No trusted device.")).to_be_visible()
