"""Pages: admin area (users, reset with identity-check note, unlock, deactivate, audit,
policy), first-run setup, and French."""

# French typography uses the apostrophe U+2019 on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import Engine
from web_pages_support import (
    PASSWORD,
    Portal,
    csrf_of,
    hidden_fields,
    other_browser,
    portal,
    secret_on_page,
    text_of,
)

from otpgate.service import setup

NOTE = "Checked ID card at the front desk, ticket 4711"


@pytest.fixture
def web(engine: Engine, tmp_path: Path) -> Iterator[Portal]:
    with portal(engine, tmp_path) as harness:
        yield harness


def test_admin_creates_a_user_who_can_then_log_in(web: Portal) -> None:
    """The new-user form creates an account that logs in with its password."""
    web.admin_ready()
    created = web.submit("/admin/users/new", "/admin/users/new", {
        "username": "newbie", "display_name": "New Bie", "email": "nb@example.org",
        "password": "a long enough password"})
    assert created.status_code == 303
    assert re.fullmatch(r"/admin/users/\d+", created.headers["location"])
    listing = web.get("/admin/users?q=newb")
    assert 'id="user-newbie"' in listing.text
    web.logout()
    web.client.cookies.clear()
    assert web.login("newbie", "a long enough password").headers["location"] == "/"


def test_new_user_with_a_weak_password_is_refused_with_a_message(web: Portal) -> None:
    """Bad input on the admin form is a 400 with the form filled again."""
    web.admin_ready()
    response = web.submit("/admin/users/new", "/admin/users/new",
                          {"username": "weak", "password": "short"})
    assert response.status_code == 400
    assert 'value="weak"' in response.text
    assert 'role="alert"' in response.text


def test_users_list_shows_2fa_and_lock_state(web: Portal) -> None:
    """The list tells who has 2FA on."""
    web.admin_ready()
    web.enrolled("with2fa")
    web.user("without")
    html = web.get("/admin/users").text
    rows = {m[0]: m[1] for m in re.findall(r'id="user-(\w+)".*?<span class="badge (on|off)">',
                                           html, re.S)}
    assert rows["with2fa"] == "on" and rows["without"] == "off"


def test_reset_needs_a_note_and_is_in_the_audit_log_with_it(web: Portal) -> None:
    """Reset without a real note is refused; with one, 2FA is off and the note is audited."""
    web.admin_ready()
    user, _ = web.enrolled("lostphone")
    page = f"/admin/users/{user.id}"
    short = web.confirmed(page, f"{page}/reset-2fa", {"note": "ok"})
    assert short.status_code == 400
    assert 'id="subject-2fa"><span class="badge on">' in short.text
    done = web.confirmed(page, f"{page}/reset-2fa", {"note": NOTE})
    assert done.status_code == 303
    after = web.get(page)
    assert 'id="subject-2fa"><span class="badge off">' in after.text
    audit = web.get("/admin/audit?kind=2fa.reset")
    assert "2fa.reset" in audit.text and NOTE in text_of(audit.text)
    web.clock.advance(1)  # the export ends at "now", which a frozen clock never passes
    export = web.get("/admin/audit.jsonl?kind=2fa.reset")
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("application/x-ndjson")
    rows = [json.loads(line) for line in export.text.splitlines()]
    assert rows and rows[0]["detail"]["note"] == NOTE and rows[0]["actor"] == "root"
    web.logout()
    web.client.cookies.clear()
    assert web.login("lostphone").headers["location"] == "/"


def test_audit_filters_by_user_and_time(web: Portal) -> None:
    """User and time filters narrow the list; an unknown user is a 404 message."""
    web.enrolled("root", admin=True)
    web.user("other")
    web.full_login("root")
    web.client.cookies.clear()
    web.full_login("other")
    web.logout()
    web.client.cookies.clear()
    web.full_login("root")
    mine = text_of(web.get("/admin/audit?user=other").text)
    assert "other" in mine and "user.created" in mine
    future = web.get("/admin/audit?since=2099-01-01T00:00")
    assert "No event matches." in text_of(future.text)
    assert web.get("/admin/audit?user=ghost").status_code == 404
    assert web.get("/admin/audit?since=yesterday").status_code == 400


def test_unlock_and_deactivate(web: Portal) -> None:
    """Unlock is audited; a deactivated user cannot log in and loses their session."""
    web.admin_ready()
    target = web.user("leaver")
    page = f"/admin/users/{target.id}"
    assert web.submit(page, f"{page}/unlock", {}).status_code == 303
    assert web.confirmed(page, f"{page}/deactivate", {}).status_code == 303
    assert "Deactivated" in text_of(web.get(page).text)
    web.logout()
    web.client.cookies.clear()
    refused = web.login("leaver")
    assert refused.status_code in (401, 403)


def test_policy_requires_2fa_and_sends_users_to_enrolment(web: Portal) -> None:
    """With 2FA required for everyone, a user without it can only enrol after the password."""
    web.admin_ready()
    web.user("plain")
    saved = web.confirmed("/admin/policy", "/admin/policy",
                          {"require_all": "yes", "require_admins": "yes",
                           "issuer": "ACME Portal"})
    assert saved.status_code == 303
    assert 'id="require_all" name="require_all" value="yes" checked' in web.get(
        "/admin/policy").text
    web.logout()
    web.client.cookies.clear()
    response = web.login("plain")
    assert response.headers["location"] == "/security/enable"
    assert web.get("/").headers["location"] == "/security/enable"
    assert web.get("/security").headers["location"] == "/security/enable"
    page = web.get("/security/enable")
    assert page.status_code == 200
    assert '<dd id="issuer">ACME Portal</dd>' in page.text
    secret = secret_on_page(page.text)
    form = {
        "csrf_token": csrf_of(page.text),
        "credential_id": re.search(r'name="credential_id" value="(\d+)"', page.text)[1],  # type: ignore[index]
        "name": "Phone",
        "code": str(pyotp.TOTP(secret).at(int(web.clock.now()))),
    }
    before = web.session_id
    done = web.client.post("/security/enable", data=form)
    assert done.status_code == 303
    assert web.get(done.headers["location"]).status_code == 200  # the recovery codes
    assert web.session_id != before
    assert web.get("/").status_code == 200


def test_home_banner_when_policy_requires_2fa_and_it_is_off(web: Portal) -> None:
    """A user without 2FA, logged in before the policy required it of everyone, sees the
    banner on the home page."""
    web.user("plain")
    user = web.other_browser()
    user.full_login("plain")
    assert 'id="policy-banner"' not in user.get("/").text
    web.admin_ready()
    web.confirmed("/admin/policy", "/admin/policy",
                  {"require_all": "yes", "require_admins": "yes", "issuer": "otpgate"})
    assert 'id="policy-banner"' in user.get("/").text


def test_first_run_setup_creates_the_admin_once(web: Portal) -> None:
    """The setup link works on an empty database, once; the account then logs in."""
    token = setup.issue_setup_token(web.ctx)
    assert token
    page = web.get(f"/setup?token={token}")
    assert page.status_code == 200
    form = {"csrf_token": csrf_of(page.text), "token": token, "username": "boss",
            "password": PASSWORD, "password2": PASSWORD}
    mismatch = web.client.post("/setup", data={**form, "password2": "something else!"})
    assert mismatch.status_code == 400
    created = web.client.post("/setup", data=form)
    assert created.status_code == 303 and created.headers["location"] == "/security/enable"
    # Logged in at once, but 2FA is required of admins: enrolment is all this session does.
    assert web.get("/").headers["location"] == "/security/enable"
    assert web.get("/admin/users").headers["location"] == "/security/enable"
    enable = web.get("/security/enable")
    assert "administrator account is ready" in text_of(enable.text)
    code = pyotp.TOTP(secret_on_page(enable.text)).at(int(web.clock.now()))
    form = hidden_fields(enable.text) | {"name": "Phone", "code": str(code)}
    enabled = web.client.post("/security/enable", data=form)
    # The recovery codes are shown by post/redirect/get.
    assert enabled.status_code == 303
    assert enabled.headers["location"] == "/security/recovery-codes/show"
    assert "Your recovery codes" in text_of(web.get("/security/recovery-codes/show").text)
    assert 'id="nav-admin"' in web.get("/").text
    again = web.other_browser().get(f"/setup?token={token}")
    assert again.status_code == 404 and 'id="setup-done"' in again.text


def test_setup_with_a_wrong_token_is_refused(web: Portal) -> None:
    """A guessed token creates nothing."""
    setup.issue_setup_token(web.ctx)
    page = web.get("/setup?token=guess")
    response = web.client.post("/setup", data={
        "csrf_token": csrf_of(page.text), "token": "guess", "username": "mallory",
        "password": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 403
    assert "setup link is not valid" in text_of(response.text)
    assert setup.setup_token_needed(web.ctx)


def test_french_from_accept_language(web: Portal) -> None:
    """Accept-Language: fr gives French labels on the login and 2FA pages."""
    web.enrolled("jean")
    web.client.headers["Accept-Language"] = "fr-FR,fr;q=0.9,en;q=0.5"
    login = web.get("/login")
    assert '<html lang="fr">' in login.text
    assert '<label for="username">Nom d’utilisateur</label>' in login.text
    assert ">Se connecter</button>" in login.text
    web.login("jean")
    two = text_of(web.get("/login/2fa").text)
    assert "Saisissez le code à 6 chiffres de votre application d’authentification" in two
    assert "Faire confiance à cet appareil pendant 30 jours" in two
    assert "Utiliser un code de secours" in two and "Annuler" in two
    wrong = web.submit("/login/2fa", "/login/2fa", {"code": "000000"
                       if web.code("jean") != "000000" else "111111"})
    assert "Ce code n’est pas valide" in text_of(wrong.text)


def test_french_with_the_language_switch(web: Portal) -> None:
    """The switch on every page changes the language for the rest of the session."""
    page = web.get("/login")
    assert 'id="lang-fr"' in page.text
    switched = web.client.post("/lang", data={"csrf_token": csrf_of(page.text), "lang": "fr",
                                              "next": "/login"})
    assert switched.headers["location"] == "/login"
    assert '<label for="password">Mot de passe</label>' in web.get("/login").text
    back = web.client.post("/lang", data={"csrf_token": csrf_of(web.get("/login").text),
                                          "lang": "en", "next": "https://evil.example/"})
    assert back.headers["location"] == "/"
    assert '<label for="password">Password</label>' in web.get("/login").text


def test_a_deactivated_user_loses_the_open_session(web: Portal) -> None:
    """The next request of a logged-in user after deactivation goes to the login page."""
    victim = web.user("gone")
    web.full_login("gone")
    assert web.get("/").status_code == 200
    user_cookies = dict(web.client.cookies)
    web.client.cookies.clear()
    web.admin_ready()
    page = f"/admin/users/{victim.id}"
    assert web.confirmed(page, f"{page}/deactivate", {}).status_code == 303
    web.client.cookies.clear()
    for name, value in user_cookies.items():
        web.client.cookies.set(name, value)
    assert web.get("/").headers["location"] == "/login"


def test_event_kinds_are_shown_in_words_in_french(web: Portal) -> None:
    """The audit page names events in the page's language."""
    web.admin_ready()
    web.submit("/", "/lang", {"lang": "fr", "next": "/admin/audit"})
    text = text_of(web.get("/admin/audit").text)
    assert "Compte créé" in text and "user.created" in text


def test_user_page_offers_only_the_actions_that_apply(web: Portal) -> None:
    """No "Reset 2FA" while 2FA is off, no "Unlock" while the account is not locked."""
    web.admin_ready()  # 2FA is required of admins
    plain = web.user("plain")
    enrolled, _ = web.enrolled("guarded")
    page = text_of(web.get(f"/admin/users/{plain.id}").text)
    html = web.get(f"/admin/users/{plain.id}").text
    assert 'id="reset-form"' not in html and "Reset two-factor authentication" not in page
    assert 'id="unlock-submit"' not in html
    assert 'id="deactivate-submit"' in html and "Deactivate the account" in page
    assert 'id="reset-form"' in web.get(f"/admin/users/{enrolled.id}").text
    with other_browser(web) as stranger:
        for _ in range(12):  # wrong passwords until the account is locked
            stranger.login("plain", "not the password at all")
    locked = web.get(f"/admin/users/{plain.id}").text
    assert 'id="unlock-submit"' in locked and "Unlock the account" in text_of(locked)


def test_audit_page_names_events_and_details_in_words(web: Portal) -> None:
    """The audit page shows event names and detail labels in words (code in small print);
    the event filter lists names, not codes."""
    web.enrolled("dana")
    web.admin_ready()  # 2FA is required of admins
    html = web.get("/admin/audit?user=root").text
    text = text_of(html)
    assert "Must set up two-factor authentication : no" in text  # label, value
    assert "must_enrol" not in text and "False" not in text
    assert '<code class="kind" translate="no">login.password_ok</code>' in html
    options = re.findall(r'<option value="([^"]+)"[^>]*>([^<]+)</option>', html)
    assert ("2fa.reset", "Two-factor authentication reset by an administrator") in options
    assert all(code != label for code, label in options)
    assert "(2fa.reset)" not in html
