"""Pages and forward auth: an admin 2FA reset, a user turning 2FA off, a password change and
a deactivation end the user's other sessions at once — the portal's pages and the proxy's
/auth/verify both refuse the old cookie; the browser that acted stays in under a new id."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from web_pages_support import PASSWORD, Portal, sites_portal

from otpgate.service import users

SITES = """
login_url = "https://auth.example.com/login"

[[site]]
name = "wiki"
domains = ["wiki.example.com"]
users = ["*"]
require_2fa = false
"""
NOTE = "Checked ID card at the front desk, ticket 4711"
NEW_PASSWORD = "a brand new long passphrase"


@pytest.fixture
def web(engine: Engine, tmp_path: Path) -> Iterator[Portal]:
    with sites_portal(engine, tmp_path, SITES) as harness:
        yield harness


def _in(browser: Portal) -> bool:
    """Whether this browser is still logged in, for the portal and for the proxy (both
    must agree)."""
    home = browser.get("/")
    proxy = browser.client.get("/auth/verify?site=wiki",
                               headers={"X-Original-URL": "https://wiki.example.com/"})
    assert proxy.status_code in (200, 401), proxy.text
    assert (home.status_code == 200) == (proxy.status_code == 200)
    return home.status_code == 200


def _alice_twice(web: Portal) -> tuple[Portal, Portal]:
    """Alice (2FA on) logged in fully in two browsers."""
    web.enrolled("alice")
    first, second = web.other_browser(), web.other_browser()
    first.full_login("alice")
    second.full_login("alice")
    assert _in(first) and _in(second)
    return first, second


def test_an_admin_reset_logs_the_user_out_everywhere(web: Portal) -> None:
    """Both of alice's browsers lose access at once, to the portal and the proxied site."""
    first, second = _alice_twice(web)
    web.admin_ready()
    alice = users.find_user(web.ctx, "alice")
    page = f"/admin/users/{alice.id}"
    assert web.confirmed(page, f"{page}/reset-2fa", {"note": NOTE}).status_code == 303
    assert not _in(first) and not _in(second)
    assert _in(web)  # the admin's own session is untouched


def test_an_admin_deactivation_logs_the_user_out_everywhere(web: Portal) -> None:
    """A disabled account's sessions end for the portal and the proxy."""
    first, second = _alice_twice(web)
    web.admin_ready()
    alice = users.find_user(web.ctx, "alice")
    page = f"/admin/users/{alice.id}"
    assert web.confirmed(page, f"{page}/deactivate", {}).status_code == 303
    assert not _in(first) and not _in(second)


def test_turning_2fa_off_keeps_this_browser_under_a_new_id(web: Portal) -> None:
    """The browser that turned 2FA off stays logged in with a rotated session id; the
    other browser is logged out."""
    here, elsewhere = _alice_twice(web)
    before = here.session_id
    done = here.submit("/security", "/security/disable",
                       {"password": PASSWORD, "code": here.code("alice")})
    assert done.status_code == 303
    assert here.session_id != before
    assert _in(here) and not _in(elsewhere)


def test_a_password_change_keeps_this_browser_under_a_new_id(web: Portal) -> None:
    """Same for a password change; the old cookie of this browser is dead too."""
    here, elsewhere = _alice_twice(web)
    before = here.session_id
    done = here.submit("/security", "/security/password",
                       {"current": PASSWORD, "password": NEW_PASSWORD,
                        "password2": NEW_PASSWORD})
    assert done.status_code == 303
    assert here.session_id != before
    assert _in(here) and not _in(elsewhere)
    stale = web.other_browser()
    assert before is not None
    stale.client.cookies.set("otpgate_session", before)
    assert not _in(stale)
