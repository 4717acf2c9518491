"""Pages of the second-factor care: rename, removal rules, drift notices, HOTP resync,
recovery-code warnings, the admin's one-time bypass code and the app-compatibility error."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import Engine
from web_pages_support import OPERATOR, PASSWORD, Portal, csrf_of, portal, secret_on_page, text_of

from otpgate.otp import Hotp
from otpgate.otp.secrets import b32decode
from otpgate.service import audit, enrolment, recovery

NOTE = "called back on the number in the HR file"


@pytest.fixture
def web(engine: Engine, tmp_path: Path) -> Iterator[Portal]:
    with portal(engine, tmp_path) as harness:
        yield harness


def _notice_after_login(web: Portal) -> str:
    home = web.get("/")
    match = re.search(r'id="notice">([^<]*)<', home.text)
    assert match, "no notice on the home page"
    return match.group(1)


def _middle_of_step(web: Portal) -> None:
    now = web.clock.now()
    web.clock.set(now - now % 30 + 15)


def test_rename_and_remove_the_last_with_password_and_code(web: Portal) -> None:
    """An authenticator is renamed from the security page; the last one is removed only
    with the password and a code, which turns 2FA off."""
    user, _ = web.enrolled("amy")
    web.full_login("amy")
    [cred] = enrolment.list_credentials(web.ctx, user.id)
    manage = f"/security/authenticators/{cred.id}"
    renamed = web.submit(manage, f"{manage}/rename", {"name": "Old Pixel"})
    assert renamed.status_code == 303
    page = web.get("/security")
    assert "Old Pixel" in text_of(page.text) and "renamed" in text_of(page.text)
    assert 'name="password"' in web.get(manage).text.split(f"{manage}/remove")[1]
    wrong = web.submit(manage, f"{manage}/remove",
                       {"password": "wrong password!", "code": web.code("amy")})
    assert wrong.status_code == 401
    # Said next to the password field, naming the password only.
    assert 'id="password-error"' in wrong.text
    assert "Your password is not correct." in text_of(wrong.text)
    no_password = web.submit(manage, f"{manage}/remove", {"code": web.code("amy")})
    assert no_password.status_code in (303, 403)  # step-up page, or the last-one message
    assert enrolment.list_credentials(web.ctx, user.id)
    removed = web.submit(manage, f"{manage}/remove",
                         {"password": PASSWORD, "code": web.code("amy")})
    assert removed.status_code == 303
    assert enrolment.list_credentials(web.ctx, user.id) == []


def test_removing_one_of_two_refuses_its_own_code(web: Portal) -> None:
    """With two authenticators, the code of the one removed is not accepted as proof."""
    user, _ = web.enrolled("bea")
    pending = enrolment.begin_enrolment(web.ctx, OPERATOR, user.id, step_up_at=web.ctx.now_dt())
    enrolment.confirm_enrolment(web.ctx, OPERATOR, user.id, pending.credential_id,
                                web.code_for(pending.secret_b32), "Backup")
    web.clock.advance(30)
    web.full_login("bea")
    page = web.get("/security/enable")  # step-up first
    step = web.get(page.headers["location"])
    web.client.post("/security/step-up", data={"csrf_token": csrf_of(step.text),
                                               "password": PASSWORD, "next": "/security"})
    own = web.submit(f"/security/authenticators/{pending.credential_id}",
                     f"/security/authenticators/{pending.credential_id}/remove",
                     {"code": web.code_for(pending.secret_b32)})
    assert own.status_code == 401
    assert len(enrolment.list_credentials(web.ctx, user.id)) == 2


def test_drift_40_seconds_behind_is_shown_on_the_security_and_code_pages(web: Portal) -> None:
    """Logins with a phone 40 s behind are accepted; the drift is then shown on the
    security page and on the code page, in English and in French."""
    web.enrolled("cat")
    first_security = ""
    for _ in range(2):
        web.clock.advance(30)
        _middle_of_step(web)
        first = web.login("cat")
        assert first.headers["location"] == "/login/2fa"
        done = web.submit("/login/2fa", "/login/2fa", {"code": web.code_for_offset("cat", -40)})
        assert done.status_code == 303 and done.headers["location"] == "/"
        security = text_of(web.get("/security").text)
        first_security = first_security if _ else security
        web.logout()
    web.clock.advance(30)
    assert re.search(r"clock seems about \d+ seconds behind: set its time", security)
    assert "seconds behind" not in first_security  # one login averages to 15 s: not yet
    web.login("cat")
    code_page = text_of(web.get("/login/2fa").text)
    assert re.search(r"clock seems about \d+ seconds behind", code_page)
    french = text_of(web.get("/login/2fa", headers={"Accept-Language": "fr"}).text)
    assert "secondes" in french and "seems" not in french
    refused = web.submit("/login/2fa", "/login/2fa", {"code": web.code_for_offset("cat", -61)})
    assert refused.status_code == 401


def test_few_recovery_codes_are_warned_after_login(web: Portal) -> None:
    """With two codes left, logging in with the authenticator says so."""
    user, codes = web.enrolled("dan")
    for code in codes[:8]:
        recovery_login = web.login("dan")
        assert recovery_login.status_code == 303
        web.submit("/login/recovery", "/login/recovery", {"code": code})
        web.logout()
    assert recovery.recovery_codes_left(web.ctx, user.id) == 2
    web.full_login("dan")
    notice = _notice_after_login(web)
    assert "Only 2 recovery codes are left" in notice
    assert "2" in text_of(web.get("/security").text)


def test_hotp_resync_form_logs_in(web: Portal) -> None:
    """A HOTP user whose key ran ahead resynchronises on the code page and is logged in."""
    user = web.user("eve")
    pending = enrolment.begin_enrolment(
        web.ctx, OPERATOR, user.id, step_up_at=web.ctx.now_dt(), kind="hotp"
    )
    hotp = Hotp(b32decode(pending.secret_b32))
    enrolment.confirm_enrolment(web.ctx, OPERATOR, user.id, pending.credential_id,
                                hotp.generate(0), "Key")
    web.login("eve")
    assert 'href="/login/2fa/resync"' in web.get("/login/2fa").text
    refused = web.submit("/login/2fa/resync", "/login/2fa/resync",
                         {"first": hotp.generate(40), "second": hotp.generate(42)})
    assert refused.status_code == 401
    done = web.submit("/login/2fa/resync", "/login/2fa/resync",
                      {"first": hotp.generate(40), "second": hotp.generate(41)})
    assert done.status_code == 303 and done.headers["location"] == "/"
    assert "resynchronised" in _notice_after_login(web)


def test_admin_bypass_code_then_enrol_a_new_phone(web: Portal) -> None:
    """An admin issues a code (note required, shown once); the user logs in with it on the
    recovery page, is held to enrolment, enrols a new phone and removes the lost one."""
    user, _ = web.enrolled("fay")
    web.enrolled("root", admin=True)
    web.full_login("root")
    page = web.get(f"/admin/users/{user.id}")
    assert 'id="bypass-form"' in page.text
    # A note too short to say anything is refused at once, before any confirmation page.
    short = web.submit(f"/admin/users/{user.id}", f"/admin/users/{user.id}/bypass",
                       {"note": "trust me"})
    assert short.status_code == 400 and 'id="confirm-form"' not in short.text
    assert "at least 10 characters" in text_of(short.text)
    shown = web.confirmed(f"/admin/users/{user.id}", f"/admin/users/{user.id}/bypass",
                          {"note": NOTE})
    assert shown.status_code == 200
    code = re.search(r'<code id="bypass-code">([a-z0-9-]+)</code>', shown.text)[1]  # type: ignore[index]
    assert code not in web.get(f"/admin/users/{user.id}").text
    web.logout()

    web.login("fay")
    used = web.submit("/login/recovery", "/login/recovery", {"code": code})
    assert used.status_code == 303 and used.headers["location"] == "/security/enable"
    assert web.get("/").headers["location"] == "/security/enable"  # held to enrolment
    enable = web.get("/security/enable")
    assert "one-time code from an administrator" in text_of(enable.text)
    secret = secret_on_page(enable.text)
    form = {
        "csrf_token": csrf_of(enable.text),
        "credential_id": re.search(r'name="credential_id" value="(\d+)"', enable.text)[1],  # type: ignore[index]
        "name": "New phone",
        "code": str(pyotp.TOTP(secret).at(int(web.clock.now()))),
    }
    assert web.client.post("/security/enable", data=form).status_code == 303
    assert web.get("/").status_code == 200
    kinds = [e.kind for e in audit.query_audit(web.ctx, username="fay")]
    assert "bypass.used" in kinds and "bypass.issued" in kinds
    web.logout()
    web.login("fay")
    again = web.submit("/login/recovery", "/login/recovery", {"code": code})
    assert again.status_code == 401


def test_an_app_that_ignored_the_settings_is_told_so(engine: Engine, tmp_path: Path) -> None:
    """With SHA256/8/60 configured, the standard code of the secret gets the explanation,
    in French too."""
    with portal(engine, tmp_path, otp_algorithm="SHA256", otp_digits=8, otp_period=60) as web:
        web.user("gus")
        web.login("gus")
        first = web.get("/security/enable")
        step = web.get(first.headers["location"])
        web.client.post("/security/step-up", data={"csrf_token": csrf_of(step.text),
                                                   "password": PASSWORD,
                                                   "next": "/security/enable"})
        page = web.get("/security/enable")
        secret = secret_on_page(page.text)
        form = {
            "csrf_token": csrf_of(page.text),
            "credential_id": re.search(r'name="credential_id" value="(\d+)"', page.text)[1],  # type: ignore[index]
            "name": "Phone",
            "code": str(pyotp.TOTP(secret).at(int(web.clock.now()))),
        }
        refused = web.client.post("/security/enable", data=form)
        assert refused.status_code == 400
        assert "ignored the settings (SHA256, 8 digits, 60 s)" in text_of(refused.text)
        assert "Aegis" in refused.text
        french = web.client.post("/security/enable", data=form,
                                 headers={"Accept-Language": "fr"})
        assert "a ignoré les paramètres" in text_of(french.text)
