"""Logging in with the keyboard alone: password, then the code, then a recovery code."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from .support import PASSWORD, PERIOD, Portal, code_at, create_user, enrol, log_in, log_in_admin

pytestmark = [pytest.mark.browser, pytest.mark.slow]

USER = "kim"
_MAX_TABS = 40


def _tab_to(page: Page, selector: str) -> None:
    """Press Tab until ``selector`` has the focus (as a keyboard user moves through a page)."""
    for _ in range(_MAX_TABS):
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    pytest.fail(f"{selector} cannot be reached with Tab on {page.url}")


def _password_by_keyboard(page: Page) -> None:
    page.goto("/login")
    expect(page.locator("#username")).to_be_focused()
    page.keyboard.type(USER)
    page.keyboard.press("Tab")
    expect(page.locator("#password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/login/2fa$"))


def test_login_code_and_recovery_code_work_by_keyboard_alone(portal: Portal) -> None:
    """Password + code, then password + recovery code, typed and reached with Tab/Enter."""
    with portal.context() as ctx:
        admin = ctx.new_page()
        log_in_admin(admin, portal)
        create_user(admin, USER, "Kim Lee")
    with portal.context() as ctx:
        page = ctx.new_page()
        log_in(page, USER)
        phone = enrol(page, "Phone", "kbd-phone", first=True)
        page.locator("#codes-done").click()
        page.locator("#logout").click()

        _password_by_keyboard(page)
        expect(page.locator("#signing-in-as")).to_contain_text("Kim Lee")
        expect(page.locator("#code")).to_be_focused()
        # The next step's code: inside the accepted window, and not spent by the enrolment.
        page.keyboard.type(code_at(phone.secret, time.time() + PERIOD))
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(r"/$"))

        _tab_to(page, "#logout")
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(r"/login$"))
        _password_by_keyboard(page)
        _tab_to(page, "#use-recovery")
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(r"/login/recovery$"))
        expect(page.locator("#recovery-code")).to_be_focused()
        page.keyboard.type(phone.recovery_codes[0])
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(r"/$"))
        expect(page.locator("#notice")).to_contain_text("You used a recovery code.")
