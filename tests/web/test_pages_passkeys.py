"""Pages: the passkey options endpoints and pages (CSRF, levels, step-up, JSON, no inline
script). The ceremonies themselves run in Chromium (tests/browser/test_passkeys.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from web_pages_support import PASSWORD, Portal, csrf_of, portal

from otpgate.relying_party import RelyingParty

RP = RelyingParty(rp_id="testserver.localhost", origin="http://testserver.localhost")


@pytest.fixture
def web(engine: Engine, tmp_path: Path) -> Iterator[Portal]:
    with portal(engine, tmp_path, passkeys=RP) as harness:
        yield harness


def _csrf(web: Portal, page: str = "/security") -> str:
    return csrf_of(web.get(page).text)


def test_registration_options_need_csrf_and_a_step_up(web: Portal) -> None:
    """Without the CSRF token: 403. Without a fresh password: 403 JSON pointing to the
    step-up. After it: the JSON options of this portal's RP ID."""
    web.user("ann")
    web.full_login("ann")
    assert web.client.post("/security/passkeys/add/options").status_code == 403
    token = _csrf(web)
    stale = web.client.post("/security/passkeys/add/options", data={"csrf_token": token})
    assert stale.status_code == 403
    assert stale.json()["redirect"] == "/security/step-up?next=/security/passkeys/add"
    page = web.get("/security/passkeys/add")
    assert page.status_code == 303 and page.headers["location"].startswith("/security/step-up")
    step_up = web.get(page.headers["location"])
    web.client.post("/security/step-up", data={
        "csrf_token": csrf_of(step_up.text), "password": PASSWORD,
        "next": "/security/passkeys/add"})
    form = web.get("/security/passkeys/add")
    assert form.status_code == 200
    options = web.client.post("/security/passkeys/add/options",
                              data={"csrf_token": csrf_of(form.text)})
    assert options.status_code == 200
    assert options.headers["content-type"] == "application/json"
    assert options.json()["rp"]["id"] == "testserver.localhost"
    assert options.headers["cache-control"] == "no-store"


def test_passkey_pages_follow_the_session_levels(web: Portal) -> None:
    """Anonymous and half-logged-in sessions reach no passkey page but their own."""
    web.user("ann")
    assert web.get("/security/passkeys/add").headers["location"] == "/login"
    token = _csrf(web, "/login")
    second = web.client.post("/login/passkey/options", data={"csrf_token": token})
    assert second.status_code == 303 and second.headers["location"] == "/login"
    web.enrolled("bob")
    web.login("bob")
    assert web.get("/security/passkeys/add").headers["location"] == "/login/2fa"
    token = _csrf(web, "/login/2fa")
    refused = web.client.post("/login/passkey/options", data={"csrf_token": token})
    assert refused.status_code == 401  # bob has no passkey
    assert refused.json()["error"] == "This passkey is not registered for this account."


def test_passwordless_options_are_refused_in_the_users_language_until_allowed(
    web: Portal,
) -> None:
    """Off by default: 403 with a French message for a French browser; no button shown."""
    french = {"Accept-Language": "fr-FR"}
    login = web.get("/login", headers=french)
    assert 'id="passwordless-form"' not in login.text
    refused = web.client.post("/login/passwordless/options",
                              data={"csrf_token": csrf_of(login.text)}, headers=french)
    assert refused.status_code == 403
    assert refused.json() == {"error": "Les clés d\u2019accès ne peuvent pas servir à cela ici."}


def test_passkey_pages_have_no_inline_script(web: Portal) -> None:
    """Every script of the passkey pages is a file of the portal (the CSP forbids inline)."""
    web.user("ann")
    web.full_login("ann")
    page = web.get("/security/passkeys/add")
    step_up = web.get(page.headers["location"])
    web.client.post("/security/step-up", data={
        "csrf_token": csrf_of(step_up.text), "password": PASSWORD,
        "next": "/security/passkeys/add"})
    html = web.get("/security/passkeys/add").text
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", html, flags=re.S)
    assert scripts and all(body.strip() == "" for body in scripts)
    assert '<script src="/static/passkeys.js" defer>' in html
    assert web.get("/static/passkeys.js").status_code == 200


def test_rename_a_passkey_on_its_own_page(web: Portal) -> None:
    """The security page links to the rename page; the new name is listed with a notice,
    and another user's passkey id only leads back to the security page."""
    from service.passkey_support import stored_passkey

    ann = web.user("ann")
    web.full_login("ann")
    key = stored_passkey(web.ctx, ann.id, name="Old name")
    security = web.get("/security").text
    assert f'href="/security/passkeys/{key}/rename"' in security
    assert "Old name" in security and "Security key" in security
    done = web.submit(f"/security/passkeys/{key}/rename", f"/security/passkeys/{key}/rename",
                      {"name": "  Desk   key "})
    assert done.status_code == 303 and done.headers["location"] == "/security"
    page = web.get("/security").text
    assert "The passkey was renamed." in page and "Desk key" in page
    empty = web.submit(f"/security/passkeys/{key}/rename", f"/security/passkeys/{key}/rename",
                       {"name": "   "})
    assert empty.status_code == 400 and "cannot be empty" in empty.text
    assert web.get(f"/security/passkeys/{key + 99}/rename").headers["location"] == "/security"
