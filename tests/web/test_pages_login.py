"""Pages: password step, second factor (code, recovery code, trusted device), sessions."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from web_pages_support import PASSWORD, Portal, portal, text_of


@pytest.fixture
def web(engine: Engine, tmp_path: Path) -> Iterator[Portal]:
    with portal(engine, tmp_path) as harness:
        yield harness


def test_login_without_2fa_gives_a_full_session_under_a_new_id(web: Portal) -> None:
    """An account without 2FA is fully logged in after the password, with a rotated id."""
    web.user("alice")
    web.get("/login")
    before = web.session_id
    response = web.login("alice")
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    assert web.session_id not in (None, before)
    home = web.get("/")
    assert home.status_code == 200
    assert "alice" in text_of(home.text)


def test_login_with_2fa_asks_for_the_code_then_gives_a_full_session(web: Portal) -> None:
    """Password then code: two id rotations, and the 2FA page is the one the issue describes."""
    web.enrolled("bob")
    web.get("/login")
    anonymous = web.session_id
    response = web.login("bob")
    assert response.headers["location"] == "/login/2fa"
    half = web.session_id
    assert half not in (None, anonymous)

    page = web.get("/login/2fa")
    assert page.status_code == 200
    html = page.text
    assert "Enter the 6-digit code from your authenticator app" in text_of(html)
    for attribute in ('placeholder="123456"', 'inputmode="numeric"',
                      'autocomplete="one-time-code"', "autofocus"):
        assert attribute in html
    assert '<label for="code">' in html and '<label for="trust">' in html
    assert "Trust this device for 30 days" in text_of(html)
    assert ">Log in</button>" in html and ">Cancel</button>" in html
    assert 'href="/login/recovery"' in html and "Use a recovery code" in html

    done = web.submit("/login/2fa", "/login/2fa", {"code": web.code("bob")})
    assert done.status_code == 303 and done.headers["location"] == "/"
    assert web.session_id not in (None, half)
    assert web.get("/").status_code == 200


def test_old_session_ids_are_dead_after_each_step(web: Portal) -> None:
    """A cookie captured before the password or the code step opens nothing afterwards."""
    web.enrolled("carol")
    web.get("/login")
    anonymous = web.session_id
    web.login("carol")
    half = web.session_id
    web.submit("/login/2fa", "/login/2fa", {"code": web.code("carol")})
    for stale in (anonymous, half):
        web.client.cookies.clear()
        assert stale is not None
        web.client.cookies.set("otpgate_session", stale)
        response = web.get("/")
        assert response.status_code == 303
        assert response.headers["location"] == "/login"


def test_wrong_code_is_refused_with_a_message_and_the_session_stays_half(web: Portal) -> None:
    """A wrong code shows a one-line message (401) and does not open the account."""
    web.enrolled("dave")
    web.login("dave")
    good = web.code("dave")
    wrong = f"{(int(good) + 500_000) % 1_000_000:06d}"
    response = web.submit("/login/2fa", "/login/2fa", {"code": wrong})
    assert response.status_code == 401
    assert "That code is not valid" in text_of(response.text)
    assert "Traceback" not in response.text
    assert web.get("/").headers["location"] == "/login/2fa"


def test_malformed_code_is_a_400_message(web: Portal) -> None:
    """Letters in the code are refused as bad input, not as a wrong code."""
    web.enrolled("erin")
    web.login("erin")
    response = web.submit("/login/2fa", "/login/2fa", {"code": "12a456"})
    assert response.status_code == 400
    assert "Enter the digits shown by your authenticator app." in text_of(response.text)


def test_a_code_is_accepted_once_only(web: Portal) -> None:
    """The same code a second time (same time step) is refused as a replay."""
    web.enrolled("frank")
    web.login("frank")
    code = web.code("frank")
    assert web.submit("/login/2fa", "/login/2fa", {"code": code}).status_code == 303
    web.logout()
    web.login("frank")
    again = web.submit("/login/2fa", "/login/2fa", {"code": code})
    assert again.status_code == 401
    assert "already used" in text_of(again.text)


def test_wrong_password_is_one_message_for_all(web: Portal) -> None:
    """Wrong password and unknown user get the same 401 message on the login page."""
    web.user("gina")
    wrong = web.login("gina", "not the password at all")
    unknown = web.login("nobody-here")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "Invalid username or password." in text_of(response.text)
        assert 'id="username"' in response.text


def test_recovery_code_works_once(web: Portal) -> None:
    """A recovery code replaces the code once; the second use is refused."""
    _, codes = web.enrolled("hana")
    assert codes
    web.login("hana")
    first = web.submit("/login/recovery", "/login/recovery", {"code": codes[0].upper()})
    assert first.status_code == 303 and first.headers["location"] == "/"
    home = web.get("/")
    assert "recovery code" in text_of(home.text)
    web.logout()
    web.login("hana")
    second = web.submit("/login/recovery", "/login/recovery", {"code": codes[0]})
    assert second.status_code == 401
    assert "This recovery code was already used." in text_of(second.text)
    assert "Wait for the next code" not in second.text
    assert web.get("/").headers["location"] == "/login/2fa"


def test_recovery_page_words_its_errors_for_recovery_codes(web: Portal) -> None:
    """A wrong or malformed recovery code gets a message about recovery codes, not app codes."""
    web.enrolled("hugo")
    web.login("hugo")
    wrong = web.submit("/login/recovery", "/login/recovery", {"code": "abcd-efgh-ijkm"})
    assert wrong.status_code == 401
    assert "That recovery code is not valid." in text_of(wrong.text)
    malformed = web.submit("/login/recovery", "/login/recovery", {"code": "12!"})
    assert malformed.status_code == 400
    assert "Enter a recovery code, such as abcd-efgh-ijkm." in text_of(malformed.text)
    assert "Enter the digits shown" not in text_of(malformed.text)


def test_trusted_device_skips_the_code_next_time(web: Portal) -> None:
    """With "trust this device" ticked, the next login from this browser needs no code."""
    web.enrolled("ivan")
    web.login("ivan")
    web.submit("/login/2fa", "/login/2fa", {"code": web.code("ivan"), "trust": "yes"})
    assert web.device_token
    web.logout()
    response = web.login("ivan")
    assert response.status_code == 303 and response.headers["location"] == "/"
    security = web.get("/security")
    assert "Chrome on Linux" in text_of(security.text)


def test_without_trusting_no_device_cookie_and_code_asked_again(web: Portal) -> None:
    """Without the box ticked no device is remembered."""
    web.enrolled("jane")
    web.login("jane")
    web.submit("/login/2fa", "/login/2fa", {"code": web.code("jane")})
    assert web.device_token is None
    web.logout()
    assert web.login("jane").headers["location"] == "/login/2fa"


def test_cancel_ends_the_half_login(web: Portal) -> None:
    """Cancel on the 2FA page drops the half-logged-in session."""
    web.enrolled("kim")
    web.login("kim")
    half = web.session_id
    response = web.submit("/login/2fa", "/login/cancel", {})
    assert response.headers["location"] == "/login"
    assert web.session_id != half
    assert web.get("/login/2fa").headers["location"] == "/login"


def test_logout_ends_the_session(web: Portal) -> None:
    """After logout the old cookie opens nothing."""
    web.user("lea")
    web.full_login("lea")
    old = web.session_id
    response = web.logout()
    assert response.headers["location"] == "/login"
    assert "You are logged out." in text_of(web.get("/login").text)
    web.client.cookies.clear()
    assert old is not None
    web.client.cookies.set("otpgate_session", old)
    assert web.get("/").headers["location"] == "/login"


def test_half_login_expires(web: Portal) -> None:
    """A half-logged-in session dies after half_login_seconds."""
    web.enrolled("mia")
    web.login("mia")
    web.clock.advance(web.ctx.settings.half_login_seconds + 1)
    assert web.get("/login/2fa").headers["location"] == "/login"


def test_idle_session_expires(web: Portal) -> None:
    """A full session unused for session_idle_seconds is gone."""
    web.user("ned")
    web.full_login("ned")
    web.clock.advance(web.ctx.settings.session_idle_seconds + 1)
    assert web.get("/").headers["location"] == "/login"


def test_lockout_shows_the_time_left(web: Portal) -> None:
    """Repeated wrong codes end in a 423 page saying when to try again, even for a good code."""
    web.enrolled("olga")
    web.login("olga")
    good = web.code("olga")
    wrong = f"{(int(good) + 500_000) % 1_000_000:06d}"
    statuses = []
    for _ in range(30):
        response = web.submit("/login/2fa", "/login/2fa", {"code": wrong})
        statuses.append(response.status_code)
        if response.status_code == 423:
            break
    assert statuses[-1] == 423, statuses
    assert "Try again in" in text_of(response.text)
    assert int(response.headers["retry-after"]) > 0
    refused = web.submit("/login/2fa", "/login/2fa", {"code": web.code("olga")})
    assert refused.status_code == 423


def test_password_is_kept_out_of_the_page_after_a_failure(web: Portal) -> None:
    """A failed login shows the username again but never the password."""
    web.user("pia")
    response = web.login("pia", "wrong password 123")
    assert "wrong password 123" not in response.text
    assert 'value="pia"' in response.text
    assert PASSWORD not in response.text


def test_a_code_from_a_slow_clock_is_accepted_with_a_warning(web: Portal) -> None:
    """Codes one step behind log in; once the measured drift passes half a step, the home
    page says the phone's clock is behind."""
    web.enrolled("quinn")
    notices = []
    for _ in range(3):
        web.clock.advance(30)  # the step before now must not be one already used
        web.login("quinn")
        late = web.code_for_offset("quinn", -30)
        done = web.submit("/login/2fa", "/login/2fa", {"code": late})
        assert done.headers["location"] == "/"
        notices.append(text_of(web.get("/").text))
        web.logout()
    assert re.search(r"clock seems about \d+ seconds behind", notices[-1])


def test_a_code_two_steps_off_is_refused(web: Portal) -> None:
    """Outside the ±1 step window the code is wrong."""
    web.enrolled("rosa")
    web.login("rosa")
    response = web.submit("/login/2fa", "/login/2fa",
                          {"code": web.code_for_offset("rosa", -60)})
    assert response.status_code == 401


def test_the_code_page_names_the_account_and_asks_phones_for_the_code(web: Portal) -> None:
    """The code page says which account is logging in; its field is numeric and one-time."""
    web.enrolled("noor")
    web.login("noor")
    html = web.get("/login/2fa").text
    assert "Logging in as noor" in text_of(html)
    field = re.search(r'<input type="text" id="code"[^>]*>', html)
    assert field is not None
    assert 'inputmode="numeric"' in field[0] and 'autocomplete="one-time-code"' in field[0]
