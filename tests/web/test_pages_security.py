"""Pages: Profile → Security (enrolment after a step-up, recovery codes, authenticators,
trusted devices, events, language)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pyotp
import pytest
from sqlalchemy import Engine
from web_pages_support import PASSWORD, Portal, csrf_of, portal, secret_on_page, text_of


@pytest.fixture
def web(engine: Engine, tmp_path: Path) -> Iterator[Portal]:
    with portal(engine, tmp_path) as harness:
        yield harness


def _step_up(web: Portal, back: str = "/security/enable") -> None:
    first = web.get(back)
    assert first.status_code == 303
    assert first.headers["location"].startswith("/security/step-up?next=")
    page = web.get(first.headers["location"])
    assert page.status_code == 200 and 'type="password"' in page.text
    done = web.client.post(
        "/security/step-up",
        data={"csrf_token": csrf_of(page.text), "password": PASSWORD, "next": back},
    )
    assert done.status_code == 303 and done.headers["location"] == back


def _enable(web: Portal, name: str = "My phone") -> tuple[str, list[str]]:
    page = web.get("/security/enable")
    assert page.status_code == 200
    secret = secret_on_page(page.text)
    code = str(pyotp.TOTP(secret).at(int(web.clock.now())))
    form = {"csrf_token": csrf_of(page.text), "name": name, "code": code,
            "credential_id": re.search(r'name="credential_id" value="(\d+)"', page.text)[1]}  # type: ignore[index]
    posted = web.client.post("/security/enable", data=form)
    assert posted.status_code == 303, text_of(posted.text)
    done = web.get(posted.headers["location"])
    codes = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", done.text)
    return secret, codes


def test_enrolment_asks_the_password_again_then_shows_qr_secret_issuer_account(
    web: Portal,
) -> None:
    """Enable → step-up → QR (inline SVG), grouped secret, issuer, account, name field."""
    web.user("alice")
    web.full_login("alice")
    _step_up(web)
    page = web.get("/security/enable")
    html = page.text
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert re.search(r'<figure class="qr" id="qr"><svg [^>]*viewBox', html)
    assert re.search(r'<code id="secret">([A-Z2-7]{4} )+[A-Z2-7]{1,4}</code>', html)
    assert '<dd id="issuer">otpgate</dd>' in html
    assert '<dd id="account">alice</dd>' in html
    assert '<label for="name">' in html and 'placeholder="My phone"' in html
    assert '<label for="code">' in html and 'autocomplete="one-time-code"' in html


def test_enrolment_with_a_pyotp_code_turns_2fa_on_and_shows_recovery_codes_once(
    web: Portal,
) -> None:
    """A code computed by pyotp confirms; recovery codes are shown with download and print."""
    web.user("bob")
    web.full_login("bob")
    _step_up(web)
    page = web.get("/security/enable")
    secret = secret_on_page(page.text)
    form = {
        "csrf_token": csrf_of(page.text),
        "credential_id": re.search(r'name="credential_id" value="(\d+)"', page.text)[1],  # type: ignore[index]
        "name": "My phone",
        "code": str(pyotp.TOTP(secret).at(int(web.clock.now()))),
    }
    posted = web.client.post("/security/enable", data=form)
    # Post/redirect/get: the codes are on a page that a reload shows again, unchanged.
    assert posted.status_code == 303
    assert posted.headers["location"] == "/security/recovery-codes/show"
    done = web.get(posted.headers["location"])
    assert done.status_code == 200
    assert done.headers["cache-control"] == "no-store"
    codes = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", done.text)
    assert len(codes) == web.ctx.settings.recovery_code_count
    download = re.search(r'download="recovery-codes.txt" href="data:text/plain;'
                         r'charset=utf-8,([^"]+)"', done.text)
    assert download and unquote(download[1]).split() == codes
    assert 'id="print-codes"' in done.text
    reloaded = web.get("/security/recovery-codes/show")
    assert reloaded.status_code == 200 and 'role="alert"' not in reloaded.text
    assert re.findall(r"<li><code>([a-z0-9-]+)</code></li>", reloaded.text) == codes
    saved = web.client.post("/security/recovery-codes/saved",
                            data={"csrf_token": csrf_of(done.text)})
    assert saved.status_code == 303 and saved.headers["location"] == "/security"
    # Once saved, the page shows them no more.
    assert web.get("/security/recovery-codes/show").headers["location"] == "/security"
    security = web.get("/security")
    assert "My phone" in text_of(security.text)
    assert "recovery codes left" in text_of(security.text)
    # Shown once: nothing on the security page repeats a code.
    assert not any(code in security.text for code in codes)
    web.clock.advance(30)
    web.logout()
    assert web.login("bob").headers["location"] == "/login/2fa"
    ok = web.submit("/login/2fa", "/login/2fa",
                    {"code": str(pyotp.TOTP(secret).at(int(web.clock.now())))})
    assert ok.headers["location"] == "/"


def test_enrolment_with_a_wrong_code_changes_nothing(web: Portal) -> None:
    """A wrong confirming code shows a message; 2FA stays off and login needs no code."""
    web.user("carl")
    web.full_login("carl")
    _step_up(web)
    page = web.get("/security/enable")
    secret = secret_on_page(page.text)
    good = str(pyotp.TOTP(secret).at(int(web.clock.now())))
    form = {
        "csrf_token": csrf_of(page.text),
        "credential_id": re.search(r'name="credential_id" value="(\d+)"', page.text)[1],  # type: ignore[index]
        "name": "x",
        "code": f"{(int(good) + 500_000) % 1_000_000:06d}",
    }
    response = web.client.post("/security/enable", data=form)
    assert response.status_code == 401
    assert "That code is not valid" in text_of(response.text)
    assert 'id="start-again"' in response.text
    assert secret not in response.text
    web.logout()
    assert web.login("carl").headers["location"] == "/"


def test_step_up_expires(web: Portal) -> None:
    """The confirmed password is good for step_up_seconds only, then asked again."""
    web.user("dora")
    web.full_login("dora")
    _step_up(web)
    assert web.get("/security/enable").status_code == 200
    web.clock.advance(web.ctx.settings.step_up_seconds + 1)
    again = web.get("/security/enable")
    assert again.status_code == 303
    assert again.headers["location"].startswith("/security/step-up")


def test_step_up_with_a_wrong_password_is_refused(web: Portal) -> None:
    """A wrong step-up password shows the message and no secret."""
    web.user("egon")
    web.full_login("egon")
    page = web.get("/security/step-up?next=/security/enable")
    response = web.client.post(
        "/security/step-up",
        data={"csrf_token": csrf_of(page.text), "password": "wrong password!!",
              "next": "/security/enable"},
    )
    assert response.status_code == 401
    # The account is known: the message names the password only, next to its field.
    assert "Your password is not correct." in text_of(response.text)
    assert "username" not in text_of(response.text).lower()
    assert 'id="password-error"' in response.text and 'aria-invalid="true"' in response.text
    assert web.get("/security/enable").status_code == 303


def test_step_up_next_cannot_leave_the_site(web: Portal) -> None:
    """The return address after the step-up is a local path, never another site."""
    web.user("fay")
    web.full_login("fay")
    page = web.get("/security/step-up?next=//evil.example/")
    assert 'value="/security"' in page.text
    response = web.client.post(
        "/security/step-up",
        data={"csrf_token": csrf_of(page.text), "password": PASSWORD,
              "next": "https://evil.example/"},
    )
    assert response.headers["location"] == "/security"


def test_disable_needs_password_and_code(web: Portal) -> None:
    """Turning 2FA off with a wrong code is refused; with the right one it is off."""
    web.enrolled("gus")
    web.full_login("gus")
    good = web.code("gus")
    bad = web.submit("/security/disable", "/security/disable",
                     {"password": PASSWORD, "code": f"{(int(good) + 1) % 1_000_000:06d}"})
    assert bad.status_code == 401
    assert 'id="code-error"' in bad.text and "That code is not valid" in text_of(bad.text)
    ok = web.submit("/security/disable", "/security/disable",
                    {"password": PASSWORD, "code": good})
    assert ok.status_code == 303
    page = web.get("/security")
    assert "Two-factor authentication is off." in text_of(page.text)
    web.logout()
    assert web.login("gus").headers["location"] == "/"


def test_regenerating_recovery_codes_needs_a_step_up_and_replaces_them(web: Portal) -> None:
    """New codes after the password; the old ones stop working."""
    _, old_codes = web.enrolled("hal")
    web.full_login("hal")
    first = web.submit("/security/recovery-codes", "/security/recovery-codes", {})
    assert first.status_code == 303 and first.headers["location"].startswith("/security/step-up")
    page = web.get(first.headers["location"])
    back = web.client.post("/security/step-up", data={
        "csrf_token": csrf_of(page.text), "password": PASSWORD,
        "next": "/security/recovery-codes"})
    assert back.headers["location"] == "/security/recovery-codes"
    posted = web.submit("/security/recovery-codes", "/security/recovery-codes", {})
    assert posted.status_code == 303
    done = web.get(posted.headers["location"])
    assert done.status_code == 200
    new_codes = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", done.text)
    assert new_codes and not set(new_codes) & set(old_codes)
    web.logout()
    web.login("hal")
    refused = web.submit("/login/recovery", "/login/recovery", {"code": old_codes[0]})
    assert refused.status_code == 401


def test_second_authenticator_and_removal(web: Portal) -> None:
    """A second authenticator is added without new recovery codes, listed, and removable."""
    web.enrolled("ivy")
    web.full_login("ivy")
    _step_up(web)
    page = web.get("/security/enable")
    secret = secret_on_page(page.text)
    form = {
        "csrf_token": csrf_of(page.text),
        "credential_id": re.search(r'name="credential_id" value="(\d+)"', page.text)[1],  # type: ignore[index]
        "name": "Backup phone",
        "code": str(pyotp.TOTP(secret).at(int(web.clock.now()))),
    }
    added = web.client.post("/security/enable", data=form)
    assert added.status_code == 303
    listing = web.get("/security")
    assert "Backup phone" in text_of(listing.text) and "phone" in text_of(listing.text)
    ids = re.findall(r'href="/security/authenticators/(\d+)"', listing.text)
    assert len(ids) == 2
    # Its own code does not prove another authenticator works: said next to the field.
    manage = f"/security/authenticators/{ids[-1]}"
    web.clock.advance(30)  # the confirming code spent the current step
    own = web.submit(manage, f"{manage}/remove",
                     {"code": str(pyotp.TOTP(secret).at(int(web.clock.now())))})
    assert own.status_code == 401
    assert re.search(r'<p class="field-error" id="code-error" role="alert">'
                     r'This code comes from the authenticator you are removing', own.text)
    # Removing one needs a code of another: the first phone's.
    removed = web.submit(manage, f"{manage}/remove", {"code": web.code("ivy")})
    assert removed.status_code == 303
    assert len(re.findall(r'href="/security/authenticators/(\d+)"',
                          web.get("/security").text)) == 1


def test_trusted_device_listed_and_revoked(web: Portal) -> None:
    """The trusted device appears with its name and, once revoked, no longer skips the code."""
    web.enrolled("joe")
    web.login("joe")
    web.submit("/login/2fa", "/login/2fa", {"code": web.code("joe"), "trust": "yes"})
    page = web.get("/security")
    assert "Chrome on Linux" in text_of(page.text)
    device = re.search(r"/security/devices/(\d+)/revoke", page.text)
    assert device
    revoked = web.client.post(device[0], data={"csrf_token": csrf_of(page.text)})
    assert revoked.status_code == 303
    assert "No trusted device." in text_of(web.get("/security").text)
    web.logout()
    assert web.login("joe").headers["location"] == "/login/2fa"


def test_recent_events_of_the_account_are_listed(web: Portal) -> None:
    """The security page lists the account's own audit events."""
    web.enrolled("kay")
    web.full_login("kay")
    text = text_of(web.get("/security").text)
    assert "Logged in" in text and "Two-factor authentication turned on" in text
    # Words, not the log's codes.
    assert "login.ok" not in text and "2fa.enabled" not in text
    everything = text_of(web.get("/security/events").text)
    assert "Account created" in everything and "user.created" not in everything


def test_home_shows_status_and_links_to_security(web: Portal) -> None:
    """Home says who you are, 2FA status and links to the security page."""
    web.enrolled("lou")
    web.full_login("lou")
    html = web.get("/").text
    assert '<dd id="who" translate="no">lou</dd>' in html
    assert 'id="twofa-status"><span class="badge on">' in html
    assert 'href="/security"' in html


def test_language_setting_is_kept_for_the_next_login(web: Portal) -> None:
    """Choosing French on the security page makes later logins French without asking."""
    web.user("max")
    web.full_login("max")
    web.submit("/security/language", "/security/language", {"lang": "fr"})
    assert "Sécurité" in text_of(web.get("/security").text)
    web.logout()
    web.client.cookies.clear()
    web.full_login("max")
    page = web.get("/")
    assert '<html lang="fr">' in page.text
    assert "Paramètres de sécurité" in text_of(page.text)
