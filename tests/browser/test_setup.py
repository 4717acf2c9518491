"""First run in a real browser: the printed setup link creates the first administrator, who
is logged in at once and led to enrolment, because 2FA is required of admins by default."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .support import ADMIN, PASSWORD, Portal, log_in_admin, shot

pytestmark = pytest.mark.browser


def test_setup_link_logs_the_admin_in_and_leads_to_enrolment(new_portal: Portal) -> None:
    """Setup link → logged in → held on the enrolment page → QR scanned, code from pyotp →
    recovery codes → the admin area; the link is then spent."""
    new_portal.complete_setup("boss", PASSWORD, shots="03-first-admin")
    assert new_portal.admin_secret
    with new_portal.context() as ctx:
        page = ctx.new_page()
        response = page.goto(new_portal.setup_link)
        assert response is not None and response.status == 404
        expect(page.locator("#setup-done")).to_contain_text("Setup is done")


def test_the_admin_logs_in_with_a_code_and_the_link_is_spent(portal: Portal) -> None:
    """The administrator created through the link logs in with password and code and reaches
    the admin area; the link no longer works."""
    with portal.context() as ctx:
        page = ctx.new_page()
        log_in_admin(page, portal)
        expect(page).to_have_url(re.compile(r"/$"))
        expect(page.locator("#who")).to_have_text(ADMIN)
        page.locator("#nav-admin").click()
        expect(page.get_by_role("heading", name="Users")).to_be_visible()
        expect(page.locator(f"#user-{ADMIN}")).to_be_visible()
        shot(page, "02-admin-users")

    with portal.context() as ctx:
        page = ctx.new_page()
        response = page.goto(portal.setup_link)
        assert response is not None and response.status == 404
        expect(page.locator("#setup-done")).to_contain_text("Setup is done")
        expect(page.locator("#setup-form")).to_have_count(0)
