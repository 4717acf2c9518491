"""Pages: an admin action that weakens someone's protection runs only from the POST of a
confirmation page that names the target, after a fresh full step-up (password + code)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from web_pages_support import PASSWORD, Portal, hidden_fields, portal, text_of

from otpgate.service import admin, users
from otpgate.service.views import UserView

NOTE = "Checked ID card at the front desk, ticket 4711"


@pytest.fixture
def web(engine: Engine, tmp_path: Path) -> Iterator[Portal]:
    with portal(engine, tmp_path) as harness:
        yield harness


def _target(web: Portal) -> UserView:
    return web.enrolled("lostphone")[0]


def _has_2fa(web: Portal, username: str) -> bool:
    return users.find_user(web.ctx, username).has_2fa


# (action path under /admin/users/{id}, form, what the page calls the action)
USER_ACTIONS = {
    "reset-2fa": ({"note": NOTE}, "Reset two-factor authentication"),
    "bypass": ({"note": NOTE}, "Issue a one-time bypass code"),
    "deactivate": ({}, "Deactivate the account"),
    "password": ({"password": "a new long passphrase", "password2": "a new long passphrase"},
                 "Set a new password"),
    "admin": ({"rights": "grant"}, "Make this account an administrator"),
}


@pytest.mark.parametrize("action", sorted(USER_ACTIONS))
def test_the_first_post_only_shows_a_confirmation_naming_the_target(
    web: Portal, action: str
) -> None:
    """Submitting the form changes nothing: the answer names the action and the account,
    carries the CSRF token and the form's values, and confirming runs it."""
    web.admin_ready()
    target = web.enrolled("lostphone")[0]
    page = f"/admin/users/{target.id}"
    form, title = USER_ACTIONS[action]
    before = web.get(page).text
    shown = web.confirm_page(page, f"{page}/{action}", form)
    assert f'<h1 id="confirm-action">{title}</h1>' in shown.text
    assert '<strong id="confirm-target">lostphone</strong>' in shown.text
    carried = hidden_fields(shown.text)
    assert carried["confirmed"] == "yes" and carried["csrf_token"]
    assert {k: carried[k] for k in form} == form
    assert 'id="step-up-password"' not in shown.text  # the step-up is fresh
    if "note" in form:
        assert f"Identity check (kept in the audit log): {NOTE}" in text_of(shown.text)
        # the note is shown as typed, marked as not to be translated
        assert f'<span translate="no">{NOTE}</span>' in shown.text
    assert _has_2fa(web, "lostphone") and users.find_user(web.ctx, "lostphone").is_active
    # the account page is unchanged (nothing but the page views happened)
    assert 'id="subject-2fa"><span class="badge on">' in before
    done = web.client.post(f"{page}/{action}", data=carried)
    assert done.status_code in (200, 303)
    after = users.find_user(web.ctx, "lostphone")
    changed = {
        "reset-2fa": not after.has_2fa,
        "bypass": 'id="bypass-code"' in done.text,
        "deactivate": not after.is_active,
        "password": web.other_browser().login("lostphone", "a new long passphrase")
        .status_code == 303,
        "admin": after.is_admin,
    }
    assert changed[action]


def test_without_a_step_up_the_confirmation_asks_for_password_and_code(web: Portal) -> None:
    """An admin who never stepped up is asked for both; a confirm POST without them, or
    with a wrong code, is refused and resets nothing; with them, the reset is done."""
    web.admin_ready(step_up=False)
    target = _target(web)
    page, action = f"/admin/users/{target.id}", f"/admin/users/{target.id}/reset-2fa"
    shown = web.confirm_page(page, action, {"note": NOTE})
    assert 'id="step-up-password"' in shown.text and 'id="step-up-code"' in shown.text
    form = hidden_fields(shown.text)
    refused = web.client.post(action, data=form)
    assert refused.status_code == 403
    assert "Confirm with your password and a current code" in text_of(refused.text)
    code = web.code("root")
    wrong = "000000" if code != "000000" else "111111"
    bad = web.client.post(action, data=form | {"step_up_password": PASSWORD,
                                               "step_up_code": wrong})
    assert bad.status_code == 401 and 'id="confirm-form"' in bad.text
    bad_pw = web.client.post(action, data=form | {"step_up_password": "not it at all",
                                                  "step_up_code": code})
    assert bad_pw.status_code == 401
    assert _has_2fa(web, "lostphone")
    done = web.client.post(action, data=form | {"step_up_password": PASSWORD,
                                                "step_up_code": code})
    assert done.status_code == 303 and not _has_2fa(web, "lostphone")


def test_an_expired_step_up_is_asked_again(web: Portal) -> None:
    """Past step_up_seconds the confirmation asks again and the confirm POST is refused;
    within the window the next action needs no new step-up."""
    web.admin_ready()
    first, second = web.enrolled("first")[0], web.enrolled("second")[0]
    web.clock.advance(web.ctx.settings.step_up_seconds - 90)
    assert web.confirmed(f"/admin/users/{first.id}", f"/admin/users/{first.id}/reset-2fa",
                         {"note": NOTE}).status_code == 303
    web.clock.advance(120)
    page, action = f"/admin/users/{second.id}", f"/admin/users/{second.id}/reset-2fa"
    shown = web.confirm_page(page, action, {"note": NOTE})
    assert 'id="step-up-password"' in shown.text
    refused = web.client.post(action, data=hidden_fields(shown.text))
    assert refused.status_code == 403 and _has_2fa(web, "second")


def test_a_get_or_a_post_without_csrf_does_nothing(web: Portal) -> None:
    """The action runs only on the confirming POST with the session's CSRF token."""
    web.admin_ready()
    target = _target(web)
    action = f"/admin/users/{target.id}/reset-2fa"
    assert web.get(f"{action}?note=x&confirmed=yes").status_code == 405
    forged = web.client.post(action, data={"note": NOTE, "confirmed": "yes"})
    assert forged.status_code == 403
    assert _has_2fa(web, "lostphone")


def test_policy_change_is_confirmed_with_the_new_values(web: Portal) -> None:
    """The policy's confirmation lists what will be required; only confirming saves it."""
    web.admin_ready()
    form = {"require_all": "yes", "require_admins": "yes", "issuer": "ACME"}
    shown = web.confirm_page("/admin/policy", "/admin/policy", form)
    text = text_of(shown.text)
    assert "required for everyone: yes" in text and "Issuer name: ACME" in text
    assert admin.get_policy(web.ctx).require_all is False
    assert web.confirmed("/admin/policy", "/admin/policy", form).status_code == 303
    assert admin.get_policy(web.ctx).require_all is True


def test_creating_an_administrator_is_confirmed_but_a_plain_user_is_not(web: Portal) -> None:
    """A new admin goes through the confirmation; a new ordinary account does not."""
    web.admin_ready()
    plain = web.submit("/admin/users/new", "/admin/users/new",
                       {"username": "plain", "password": "a long enough password"})
    assert plain.status_code == 303
    form = {"username": "second", "password": "a long enough password", "is_admin": "yes"}
    shown = web.confirm_page("/admin/users/new", "/admin/users/new", form)
    assert '<strong id="confirm-target">second</strong>' in shown.text
    with pytest.raises(Exception, match="No such user"):
        users.find_user(web.ctx, "second")
    assert web.confirmed("/admin/users/new", "/admin/users/new", form).status_code == 303
    assert users.find_user(web.ctx, "second").is_admin


def test_an_admin_without_2fa_reaches_no_admin_page_by_default(web: Portal) -> None:
    """Under the default policy an admin without an authenticator is sent to enrolment."""
    web.user("root", admin=True)
    assert web.login("root").headers["location"] == "/security/enable"
    for path in ("/admin/users", "/admin/policy", "/"):
        assert web.get(path).headers["location"] == "/security/enable"



def test_a_deactivated_account_is_enabled_again_after_confirming(web: Portal) -> None:
    """The account page of a disabled account offers to enable it (and no longer to
    deactivate it); confirming does."""
    web.admin_ready()
    target = _target(web)
    page = f"/admin/users/{target.id}"
    assert 'id="reactivate-submit"' not in web.get(page).text
    assert web.confirmed(page, f"{page}/deactivate", {}).status_code == 303
    disabled = web.get(page).text
    assert 'id="reactivate-submit"' in disabled and 'id="deactivate-submit"' not in disabled
    shown = web.confirm_page(page, f"{page}/reactivate", {})
    assert '<h1 id="confirm-action">Enable the account again</h1>' in shown.text
    assert not users.find_user(web.ctx, "lostphone").is_active
    assert web.confirmed(page, f"{page}/reactivate", {}).status_code == 303
    assert users.find_user(web.ctx, "lostphone").is_active
    enabled = web.get(page).text
    assert "The account can log in again." in text_of(enabled)
    assert 'id="deactivate-submit"' in enabled and 'id="reactivate-submit"' not in enabled


def test_an_admin_who_turns_2fa_off_is_held_to_enrolment(web: Portal) -> None:
    """Under the default policy an admin's session without 2FA may only enrol again."""
    web.admin_ready()
    done = web.submit("/security", "/security/disable",
                      {"password": PASSWORD, "code": web.code("root")})
    assert done.headers["location"] == "/security/enable"
    assert web.get("/admin/users").headers["location"] == "/security/enable"
    assert "Two-factor authentication is off." in text_of(web.get("/security/enable").text)


def test_a_refused_proof_is_shown_under_its_field(web: Portal) -> None:
    """A wrong password is said under the password field, a wrong code under the code
    field; each field points to its message (aria-invalid, aria-describedby)."""
    web.admin_ready(step_up=False)
    target = _target(web)
    page, action = f"/admin/users/{target.id}", f"/admin/users/{target.id}/reset-2fa"
    form = hidden_fields(web.confirm_page(page, action, {"note": NOTE}).text)
    code = web.code("root")
    bad_pw = web.client.post(action, data=form | {"step_up_password": "not it at all",
                                                  "step_up_code": code})
    assert bad_pw.status_code == 401
    assert 'aria-invalid="true" aria-describedby="password-error"' in bad_pw.text
    assert '<p class="field-error" id="password-error" role="alert">Your password is not ' \
        'correct.</p>' in bad_pw.text
    assert 'id="code-error"' not in bad_pw.text and 'id="error"' not in bad_pw.text
    wrong = "000000" if code != "000000" else "111111"
    bad_code = web.client.post(action, data=form | {"step_up_password": PASSWORD,
                                                    "step_up_code": wrong})
    assert bad_code.status_code == 401
    assert 'aria-invalid="true" aria-describedby="code-error"' in bad_code.text
    assert 'id="code-error" role="alert"' in bad_code.text
    assert 'id="password-error"' not in bad_code.text and 'id="error"' not in bad_code.text
    assert _has_2fa(web, "lostphone")
