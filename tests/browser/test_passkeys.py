"""Passkeys in a real browser: Chromium's virtual authenticator (CTAP2, internal transport,
resident keys, user verification) makes real keys and signatures; ``otpgate serve`` checks
them with py_webauthn. The portal's address is ``http://localhost:PORT`` (RP ID
``localhost``, a secure context).

The steps run in file order and share one account, as one person's story: register a
passkey after the password re-check, sign in with it, a cloned key (counter gone back) is
refused, a phishing origin is refused, passwordless sign-in once the admin allows it,
the French pages, and finally a removed key that no longer signs in.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from .passkey_support import VirtualAuthenticator, audit_rows, otpgate_cli
from .support import (
    PASSWORD,
    Portal,
    confirm_with_step_up,
    enrol,
    fresh_code,
    log_in,
    log_in_admin,
    log_out,
    shot,
    step_up_if_asked,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

USER = "pat"
HOME = re.compile(r"/$")
TWO_FACTOR = re.compile(r"/login/2fa$")


@dataclass
class Story:
    portal: Portal
    home: Path
    context: BrowserContext
    page: Page
    key: VirtualAuthenticator
    done: set[str] = field(default_factory=set)

    def after(self, *steps: str) -> None:
        missing = [s for s in steps if s not in self.done]
        if missing:
            pytest.fail(f"an earlier step failed: {', '.join(missing)}")

    def credential(self) -> dict[str, Any]:
        [only] = self.key.credentials()
        return only


@pytest.fixture(scope="module")
def story(passkey_portal: tuple[Portal, Path]) -> Iterator[Story]:
    portal, home = passkey_portal
    otpgate_cli(home, "user", "add", USER, "--password-stdin", stdin=PASSWORD + "\n")
    context = portal.context()
    page = context.new_page()
    try:
        yield Story(portal, home, context, page, VirtualAuthenticator.attach(context, page))
    finally:
        context.close()


def _fresh_profile(story: Story, *, locale: str = "en-GB") -> tuple[BrowserContext, Page,
                                                                    VirtualAuthenticator]:
    """Another browser profile whose virtual authenticator holds a copy of the passkey.

    The copy's counter jumps ahead, and the story's own key further still, so that the
    portal never sees either go back (which it would rightly call a clone).
    """
    context = story.portal.context(locale=locale)
    page = context.new_page()
    key = VirtualAuthenticator.attach(context, page)
    real = story.credential()
    key.add(real, signCount=real["signCount"] + 1000)
    story.key.remove(real)
    story.key.add(real, signCount=real["signCount"] + 2000)
    return context, page, key


def test_register_a_passkey_after_the_password_recheck(story: Story) -> None:
    """Security → Add a passkey asks the password again, names the key and stores it: 2FA
    turns on, recovery codes are shown, the list shows its type and dates."""
    page = story.page
    log_in(page, USER)
    expect(page).to_have_url(HOME)
    page.goto("/security")
    page.get_by_role("link", name="Add a passkey or security key").click()
    expect(page).to_have_url(re.compile(r"/security/step-up"))
    step_up_if_asked(page)
    expect(page).to_have_url(re.compile(r"/security/passkeys/add$"))
    page.get_by_label("Passkey name").fill("Work laptop")
    page.get_by_role("button", name="Create the passkey").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    [cred] = story.key.credentials()
    assert cred["isResidentCredential"] is True and cred["rpId"] == "localhost"
    page.goto("/security")
    row = page.locator("#passkeys > li")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Work laptop")
    expect(row).to_contain_text("Security key")
    expect(row).to_contain_text("This device only")
    expect(page.locator("#twofa-status")).to_have_text("On")
    expect(page.locator("#twofa-how")).to_have_text("Your passkey is asked at each login.")
    expect(page.locator("#codes-left")).to_have_text("10 recovery codes left.")
    shot(page, "passkey-01-security")
    [added] = audit_rows(story.home, USER, "passkey.added")
    assert added["detail"]["name"] == "Work laptop"
    # The user handle the browser holds is random, not the username.
    assert USER not in cred["userHandle"] and len(cred["userHandle"]) >= 40
    story.done.add("register")


def test_second_step_offers_the_passkey_first_and_accepts_it(story: Story) -> None:
    """After the password, "Use your passkey" comes first; the key's signature logs in."""
    story.after("register")
    page = story.page
    log_out(page)
    log_in(page, USER)
    expect(page).to_have_url(TWO_FACTOR)
    first = page.locator("main form").first
    expect(first).to_have_attribute("id", "passkey-login-form")
    expect(page.get_by_role("link", name="Use a recovery code")).to_be_visible()
    shot(page, "passkey-02-second-step")
    before = story.credential()["signCount"]
    page.get_by_role("button", name="Use your passkey").click()
    expect(page).to_have_url(HOME)
    assert story.credential()["signCount"] > before
    ok = audit_rows(story.home, USER, "login.ok")[0]
    assert ok["detail"]["method"] == "passkey" and ok["detail"]["passwordless"] is False
    story.done.add("second_step")


def test_a_signature_counter_that_goes_back_is_refused_as_a_clone(story: Story) -> None:
    """A copy of the key with a lower counter signs correctly but is refused and audited."""
    story.after("second_step")
    page = story.page
    log_out(page)
    real = story.credential()
    story.key.remove(real)
    story.key.add(real, signCount=0)
    log_in(page, USER)
    page.get_by_role("button", name="Use your passkey").click()
    expect(page.locator("#error")).to_contain_text("signature counter went back")
    expect(page).to_have_url(re.compile(r"/login/passkey$"))
    [cloned] = audit_rows(story.home, USER, "passkey.cloned")
    assert cloned["detail"]["presented_count"] == 1
    assert cloned["detail"]["stored_count"] == real["signCount"]
    # The genuine key, whose counter is ahead, still works.
    story.key.remove(story.credential())
    story.key.add(real, signCount=real["signCount"] + 5)
    page.get_by_role("button", name="Use your passkey").click()
    expect(page).to_have_url(HOME)
    story.done.add("clone")


def test_a_passkey_answer_made_for_another_origin_is_refused(
    story: Story, start_server: Any
) -> None:
    """A look-alike site relaying to the portal (another origin, same RP ID) gets a real
    signature from the key, but over its own origin: the portal refuses it."""
    story.after("second_step")
    # Same database and keys, but reached at another port: the browser signs that origin.
    relay = start_server(
        story.home, host_name="localhost", public_url=story.portal.base_url
    )
    context = story.portal.browser.new_context(base_url=relay.base_url)
    try:
        page = context.new_page()
        key = VirtualAuthenticator.attach(context, page)
        key.add(story.credential())
        log_in(page, USER)
        expect(page).to_have_url(TWO_FACTOR)
        page.get_by_role("button", name="Use your passkey").click()
        expect(page.locator("#error")).to_contain_text("could not be verified")
        expect(page).to_have_url(re.compile(r"/login/passkey$"))
    finally:
        context.close()
    failed = audit_rows(story.home, USER, "login.passkey_failed")[0]
    assert failed["detail"]["reason"] == "invalid"


def test_passwordless_sign_in_once_the_policy_allows_it(story: Story) -> None:
    """No passkey button on the login page until the admin allows it; then the passkey
    alone (with user verification) gives a full session."""
    story.after("second_step")
    context, page, _ = _fresh_profile(story)
    try:
        page.goto("/login")
        expect(page.locator("#passwordless-form")).to_have_count(0)
        with story.portal.context() as admin_ctx:
            admin = admin_ctx.new_page()
            log_in_admin(admin, story.portal)
            admin.goto("/admin/policy")
            admin.get_by_label("Allow signing in with a passkey alone").check()
            admin.get_by_role("button", name="Save").click()
            confirm_with_step_up(admin, story.portal)
            expect(admin.locator("#notice")).to_contain_text("The policy was saved.")
        page.goto("/login")
        shot(page, "passkey-03-login")
        page.get_by_role("button", name="Sign in with a passkey").click()
        expect(page).to_have_url(HOME)
        page.goto("/security")
        expect(page).to_have_url(re.compile(r"/security$"))
        ok = audit_rows(story.home, USER, "login.ok")[0]
        assert ok["detail"]["passwordless"] is True
    finally:
        context.close()
    story.done.add("passwordless")


def test_passkey_pages_in_french(story: Story) -> None:
    """The second step and the security page speak French to a French browser."""
    story.after("second_step")
    context, page, _ = _fresh_profile(story, locale="fr-FR")
    try:
        page.goto("/login")
        page.locator("#username").fill(USER)
        page.locator("#password").fill(PASSWORD)
        page.locator("#login-submit").click()
        expect(page).to_have_url(TWO_FACTOR)
        expect(page.locator("#passkey-login")).to_have_text("Utiliser votre clé d\u2019accès")
        page.locator("#passkey-login").click()
        expect(page).to_have_url(HOME)
        page.goto("/security")
        expect(page.locator("#h-passkeys")).to_have_text("Clés d\u2019accès et clés de sécurité")
        expect(page.locator("#add-passkey")).to_have_text(
            "Ajouter une clé d\u2019accès ou une clé de sécurité"
        )
        expect(page.locator("#passkeys")).to_contain_text("Clé de sécurité")
    finally:
        context.close()


def test_removed_passkey_no_longer_signs_in(story: Story) -> None:
    """Removing the passkey needs a code from another factor; afterwards the key the
    browser still holds is refused."""
    story.after("passwordless")
    page = story.page
    page.goto("/security")
    if "/login" in page.url:
        log_in(page, USER)
        page.get_by_role("button", name="Use your passkey").click()
        expect(page).to_have_url(HOME)
    phone = enrol(page, "Phone", "passkey-04-enrol", first=False)
    page.goto("/security")
    [row_id] = [r.get_attribute("id") for r in page.locator("#passkeys > li").all()]
    assert row_id is not None
    page.locator(f"#remove-{row_id}").click()
    step_up_if_asked(page)
    code, _ = fresh_code(phone.secret, phone.step)
    page.get_by_label("Code from your authenticator app").fill(code)
    page.get_by_role("button", name="Remove").click()
    expect(page.locator("#notice")).to_have_text("The passkey was removed.")
    expect(page.locator("#passkeys")).to_have_count(0)
    [removed] = audit_rows(story.home, USER, "passkey.removed")
    assert removed["detail"]["name"] == "Work laptop"
    log_out(page)
    page.goto("/login")
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.locator("#error")).to_contain_text("not registered")
    # No account is named by a key the portal does not know: the row has no subject.
    failed = audit_rows(story.home, None, "login.passkey_failed")[0]
    assert failed["detail"]["reason"] == "unknown" and failed["subject"] == ""


def _register(page: Page, name: str) -> None:
    """Security → Add a passkey, from a full session (password re-check if asked)."""
    page.goto("/security")
    page.locator("#add-passkey").click()
    step_up_if_asked(page)
    page.get_by_label("Passkey name").fill(name)
    page.get_by_role("button", name="Create the passkey").click()


def test_a_passkey_is_removed_with_another_passkey_and_the_last_with_the_password(
    passkey_portal: tuple[Portal, Path],
) -> None:
    """A second account with two passkeys and no authenticator app: one goes with the
    other's signature; the last one goes with the password and its own signature, which
    turns 2FA off."""
    portal, home = passkey_portal
    otpgate_cli(home, "user", "add", "quinn", "--password-stdin", stdin=PASSWORD + "\n")
    with portal.context() as context:
        page = context.new_page()
        key = VirtualAuthenticator.attach(context, page)
        log_in(page, "quinn")
        _register(page, "Desk key")
        expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
        # One authenticator holds both keys: hide the first while the second is created
        # (the browser would refuse to create a second key where the first is), then put
        # it back as a non-discoverable key (one discoverable key per account and site).
        [desk] = key.credentials()
        key.remove(desk)
        _register(page, "Pocket key")
        expect(page.locator("#notice")).to_have_text("The passkey was added.")
        key.add(desk, isResidentCredential=False)
        rows = page.locator("#passkeys > li")
        expect(rows).to_have_count(2)
        desk_row = rows.filter(has_text="Desk key").get_attribute("id")
        assert desk_row is not None
        page.locator(f"#remove-{desk_row}").click()
        expect(page.locator("#passkey-remove-code")).to_have_count(0)
        page.get_by_role("button", name="Confirm with another passkey and remove").click()
        expect(page.locator("#notice")).to_have_text("The passkey was removed.")
        expect(page.locator("#passkeys > li")).to_have_count(1)
        expect(page.locator("#passkeys")).to_contain_text("Pocket key")
        [removed] = audit_rows(home, "quinn", "passkey.removed")
        assert removed["detail"]["name"] == "Desk key"

        page.locator("#passkeys > li a", has_text="Remove").click()
        expect(page.locator("#passkey-last")).to_be_visible()
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Remove with this passkey").click()
        expect(page.locator("#notice")).to_have_text("The passkey was removed.")
        expect(page.locator("#twofa-status")).to_contain_text("Off")
        [off] = audit_rows(home, "quinn", "2fa.disabled")
        assert off["detail"]["passkeys"] == 1 and off["detail"]["via"] == "remove_last_passkey"
