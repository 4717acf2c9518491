"""The French pages in a real browser: chosen by Accept-Language, or by the language switch."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .support import ADMIN, PASSWORD, Portal, shot

pytestmark = pytest.mark.browser

USERNAME_FR = "Nom d\u2019utilisateur"  # typographic apostrophe, as in the catalog


def test_a_french_browser_gets_french_pages(portal: Portal) -> None:
    """A browser that asks for French (Accept-Language) gets the login page in French."""
    with portal.context(locale="fr-FR") as ctx:
        page = ctx.new_page()
        page.goto("/login")
        expect(page.locator("html")).to_have_attribute("lang", "fr")
        expect(page.get_by_role("heading", name="Se connecter")).to_be_visible()
        expect(page.get_by_label(USERNAME_FR)).to_be_visible()
        expect(page.get_by_label("Mot de passe")).to_be_visible()
        expect(page.get_by_role("button", name="Se connecter")).to_be_visible()
        expect(page.get_by_role("button", name="Français")).to_have_attribute(
            "aria-pressed", "true"
        )
        shot(page, "20-login-fr")


def test_the_language_switch_turns_an_english_session_french(portal: Portal) -> None:
    """Pressing "Français" on an English page makes this and the next pages French."""
    with portal.context(locale="en-GB") as ctx:
        page = ctx.new_page()
        page.goto("/login")
        expect(page.get_by_label("Username")).to_be_visible()
        page.get_by_role("button", name="Français").click()
        expect(page).to_have_url(re.compile(r"/login$"))
        expect(page.get_by_label(USERNAME_FR)).to_be_visible()

        page.get_by_label(USERNAME_FR).fill(ADMIN)
        page.get_by_label("Mot de passe").fill(PASSWORD)
        page.get_by_role("button", name="Se connecter").click()
        # The administrator has 2FA (required of admins): the code page is French too.
        expect(page).to_have_url(re.compile(r"/login/2fa$"))
        page.locator("#code").fill(portal.admin_code())
        page.locator("#twofa-submit").click()
        expect(page.get_by_role("heading", name=f"Bienvenue, {ADMIN}")).to_be_visible()
        nav = page.get_by_role("navigation", name="Principal")
        expect(nav.get_by_role("link", name="Accueil")).to_be_visible()
        expect(nav.get_by_role("link", name="Sécurité")).to_be_visible()
        expect(page.locator("#twofa-status")).to_have_text("Activée")
        expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()
        shot(page, "21-home-fr")

        # Back to English: the switch works both ways.
        page.get_by_role("button", name="English").click()
        expect(page.get_by_role("heading", name=f"Welcome, {ADMIN}")).to_be_visible()
