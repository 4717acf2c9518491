"""Pages: a user changes their own password (Security), an admin sets a user's password."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from web_pages_support import (
    OPERATOR,
    PASSWORD,
    Portal,
    hidden_fields,
    other_browser,
    portal,
    text_of,
)

from otpgate.service import audit, login
from otpgate.service.errors import AuthenticationFailed

NEW = "a brand new passphrase"


@pytest.fixture
def web(engine: Engine, tmp_path: Path) -> Iterator[Portal]:
    with portal(engine, tmp_path) as harness:
        yield harness


def password_works(web: Portal, username: str, password: str) -> bool:
    try:
        login.check_password(web.ctx, OPERATOR, username, password)
    except AuthenticationFailed:
        return False
    return True


def change(web: Portal, current: str, new: str, again: str | None = None) -> object:
    return web.submit("/security", "/security/password", {
        "current": current, "password": new, "password2": new if again is None else again})


def test_own_change_keeps_this_browser_and_ends_the_other_sessions(web: Portal) -> None:
    """Current + new twice: this browser stays in (new id), the other one is logged out."""
    web.enrolled("ivy")
    web.full_login("ivy")
    with other_browser(web) as phone:
        phone.full_login("ivy")
        assert phone.get("/security").status_code == 200
        before = web.session_id
        done = change(web, PASSWORD, NEW)
        assert done.status_code == 303 and done.headers["location"] == "/security"  # type: ignore[attr-defined]
        assert web.session_id not in (None, before)
        page = web.get("/security")
        assert page.status_code == 200
        assert "Your password was changed" in text_of(page.text)
        assert phone.get("/security").headers["location"] == "/login"
    assert password_works(web, "ivy", NEW) and not password_works(web, "ivy", PASSWORD)
    kinds = [e.kind for e in audit.query_audit(web.ctx, username="ivy")]
    assert "user.password_changed" in kinds


@pytest.mark.parametrize(
    ("current", "new", "again", "status", "message"),
    [
        ("wrong password here", NEW, None, 401, "Your password is not correct."),
        (PASSWORD, NEW, NEW + "x", 400, "The two new passwords are not the same."),
        (PASSWORD, "short", None, 400, "The new password"),
    ],
)
def test_own_change_refused_changes_nothing(
    web: Portal, current: str, new: str, again: str | None, status: int, message: str
) -> None:
    """Wrong current password, two different new ones, a weak one: message, nothing stored."""
    web.user("ivy")
    web.full_login("ivy")
    before = web.session_id
    response = change(web, current, new, again)
    assert response.status_code == status  # type: ignore[attr-defined]
    assert message in text_of(response.text)  # type: ignore[attr-defined]
    assert password_works(web, "ivy", PASSWORD)
    assert web.session_id == before and web.get("/security").status_code == 200


def test_password_form_in_french(web: Portal) -> None:
    """The French security page labels the password form in French."""
    web.user("ivy", locale="fr")
    web.full_login("ivy")
    assert "Changer le mot de passe" in text_of(web.get("/security").text)
    text = text_of(web.get("/security/password").text)
    assert "Mot de passe actuel" in text and "Changer le mot de passe" in text


def admin_sets(web: Portal, user_id: int, new: str, own: str, again: str | None = None) -> object:
    """The admin's set-password form, then its confirmation with ``own`` password and a
    current code as the step-up (the form's answer itself if it is not a confirmation)."""
    action = f"/admin/users/{user_id}/password"
    shown = web.submit(f"/admin/users/{user_id}", action, {
        "password": new, "password2": new if again is None else again})
    if 'id="confirm-form"' not in shown.text:
        return shown
    step_up = {"step_up_password": own, "step_up_code": web.code("root")}
    return web.client.post(action, data=hidden_fields(shown.text) | step_up)


def test_admin_sets_a_password_after_confirming_their_own(web: Portal) -> None:
    """Wrong admin password at the step-up: refused; right one (and a current code): set,
    audited, the user's sessions ended. The form itself asks for no password of the
    admin's own: the confirmation's step-up is where it is checked."""
    web.admin_ready(step_up=False)
    ivy = web.user("ivy")
    form = web.get(f"/admin/users/{ivy.id}").text
    assert 'id="set-password-form"' in form and "current-password" not in form
    with other_browser(web) as laptop:
        laptop.full_login("ivy")
        refused = admin_sets(web, ivy.id, NEW, "not my password")
        assert refused.status_code == 401  # type: ignore[attr-defined]
        assert "Your password is not correct." in text_of(refused.text)  # type: ignore[attr-defined]
        assert password_works(web, "ivy", PASSWORD)
        mismatch = admin_sets(web, ivy.id, NEW, PASSWORD, again="something else entirely")
        assert mismatch.status_code == 400  # type: ignore[attr-defined]
        assert laptop.get("/security").status_code == 200
        done = admin_sets(web, ivy.id, NEW, PASSWORD)
        assert done.status_code == 303  # type: ignore[attr-defined]
        assert "The password was set" in text_of(web.get(f"/admin/users/{ivy.id}").text)
        assert laptop.get("/security").headers["location"] == "/login"
    assert password_works(web, "ivy", NEW) and not password_works(web, "ivy", PASSWORD)
    event = audit.query_audit(web.ctx, username="ivy", kind="user.password_changed")[0]
    assert event.actor_name == "root" and "by_admin" in event.to_json()


def test_admin_setting_their_own_password_stays_logged_in(web: Portal) -> None:
    """The admin page on one's own account: the password changes, the admin stays in."""
    root = web.admin_ready(step_up=False)
    assert admin_sets(web, root.id, NEW, PASSWORD).status_code == 303  # type: ignore[attr-defined]
    assert web.get("/admin/users").status_code == 200
    assert password_works(web, "root", NEW)


def test_only_admins_set_passwords(web: Portal) -> None:
    """A plain user posting the admin form is refused and nothing changes."""
    web.user("ivy")
    mallory = web.user("mallory")
    web.full_login("ivy")
    response = web.submit("/security", f"/admin/users/{mallory.id}/password", {
        "password": NEW, "password2": NEW})
    assert response.status_code == 403
    assert password_works(web, "mallory", PASSWORD)
