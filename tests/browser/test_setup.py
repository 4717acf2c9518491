"""First run in a real browser: the printed setup link creates the first administrator."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .support import ADMIN, Portal, log_in, shot

pytestmark = pytest.mark.browser


def test_setup_link_made_an_admin_who_logs_in_and_cannot_be_reused(portal: Portal) -> None:
    """The administrator created through the link logs in to the admin area; the link is spent."""
    with portal.context() as ctx:
        page = ctx.new_page()
        log_in(page, ADMIN)
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
