"""Forward auth's way back: the return URL survives every login level, and an account a
site wants with 2FA is sent to the enrolment, then back to the site."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx2 as httpx
import pyotp
import pytest
from sqlalchemy import Engine
from web_pages_support import OPERATOR, PASSWORD, Portal, csrf_of, secret_on_page, sites_portal

from otpgate.service import admin

SITES = """
login_url = "https://auth.example.com/login"

[[site]]
name = "erp"
domains = ["erp.example.com"]
users = ["*"]

[[site]]
name = "wiki"
domains = ["wiki.example.com"]
users = ["*"]
require_2fa = false

[[site]]
name = "vault"
domains = ["vault.example.com"]
users = ["nobody"]
"""

ERP = "https://erp.example.com/orders?id=7"


@pytest.fixture
def web(engine: Engine, tmp_path: Path) -> Iterator[Portal]:
    with sites_portal(engine, tmp_path, SITES) as harness:
        yield harness


def verify(web: Portal, url: str, *, redirect: bool = False) -> httpx.Response:
    """Ask as the proxy block of the URL's site would: erp, wiki or vault."""
    site = (urlsplit(url).hostname or "").split(".")[0]
    path = f"/auth/verify?site={site}" + ("&redirect=1" if redirect else "")
    return web.client.get(path, headers={"X-Original-URL": url})


def login_with_rd(web: Portal, rd: str) -> httpx.Response:
    return web.client.get("/login", params={"rd": rd})


def enable_2fa(web: Portal) -> httpx.Response:
    """Step-up if asked, then the enrolment form with a pyotp code; the final answer."""
    page = web.get("/security/enable")
    if page.status_code == 303:
        assert page.headers["location"].startswith("/security/step-up")
        form = web.get(page.headers["location"])
        done = web.client.post("/security/step-up", data={
            "csrf_token": csrf_of(form.text), "password": PASSWORD, "next": "/security/enable"})
        assert done.headers["location"] == "/security/enable"
        page = web.get("/security/enable")
    assert page.status_code == 200, page.status_code
    code = str(pyotp.TOTP(secret_on_page(page.text)).at(int(web.clock.now())))
    cred = re.search(r'name="credential_id" value="(\d+)"', page.text)
    assert cred is not None
    return web.client.post("/security/enable", data={
        "csrf_token": csrf_of(page.text), "name": "phone", "code": code,
        "credential_id": cred[1]})


def test_half_logged_in_session_keeps_the_return_url_sent_by_the_proxy(web: Portal) -> None:
    """Password typed, then the proxy sends /login?rd=…: the code leads to that URL."""
    web.enrolled("carol")
    assert web.login("carol").headers["location"] == "/login/2fa"
    again = login_with_rd(web, ERP)
    assert again.status_code == 303 and again.headers["location"] == "/login/2fa"
    done = web.submit("/login/2fa", "/login/2fa", {"code": web.code("carol")})
    assert done.headers["location"] == ERP


def test_half_logged_in_session_forgets_the_return_url_for_an_off_site_one(
    web: Portal,
) -> None:
    """A later off-site rd replaces an earlier good one: after the code, home."""
    web.enrolled("carol")
    login_with_rd(web, ERP)
    web.login("carol")
    assert login_with_rd(web, "https://evil.example.net/").headers["location"] == "/login/2fa"
    done = web.submit("/login/2fa", "/login/2fa", {"code": web.code("carol")})
    assert done.headers["location"] == "/"


def test_full_session_visiting_the_login_goes_straight_to_the_return_url(web: Portal) -> None:
    """Already logged in: /login?rd=<protected URL> is a redirect there, and only once."""
    web.enrolled("carol")
    web.full_login("carol")
    response = login_with_rd(web, ERP)
    assert response.status_code == 303 and response.headers["location"] == ERP
    assert web.get("/login").headers["location"] == "/"


@pytest.mark.parametrize(
    "rd", ["https://evil.example.net/", "//evil.example.net/", "https://erp.example.com@evil.net/"]
)
def test_full_session_visiting_the_login_with_an_off_site_url_goes_home(
    web: Portal, rd: str
) -> None:
    """No open redirect for a logged-in user either: an off-site rd leads to the portal."""
    web.user("erin")
    web.full_login("erin")
    assert login_with_rd(web, rd).headers["location"] == "/"


def test_enrolment_required_by_policy_ends_at_the_return_url(web: Portal) -> None:
    """Policy demands 2FA: login with rd → enrolment → recovery codes → link to rd."""
    admin.set_policy(web.ctx, OPERATOR, None, require_all=True, require_admins=True,
                     issuer="otpgate")
    web.user("erin")
    login_with_rd(web, ERP)
    assert web.login("erin").headers["location"] == "/security/enable"
    done = enable_2fa(web)
    assert done.status_code == 303
    assert _saved_codes_lead_to(web, done) == ERP
    web.clock.advance(30)
    assert verify(web, ERP).status_code == 200


def test_2fa_required_points_the_browser_to_the_security_page(web: Portal) -> None:
    """403 2fa-required carries Location = the security page with rd; 302 in redirect mode."""
    web.user("erin")
    web.full_login("erin")
    expected = "https://auth.example.com/security?rd=" + quote(ERP, safe="")
    response = verify(web, ERP)
    assert response.status_code == 403
    assert response.headers["x-otpgate-reason"] == "2fa-required"
    assert response.headers["location"] == expected
    redirected = verify(web, ERP, redirect=True)
    assert redirected.status_code == 302
    assert redirected.headers["location"] == expected
    assert redirected.headers["x-otpgate-reason"] == "2fa-required"


def test_not_allowed_stays_a_bare_403(web: Portal) -> None:
    """A user refused by the site's rules gets no Location: enrolment would not help."""
    web.enrolled("carol")
    web.full_login("carol")
    for redirect in (False, True):
        response = verify(web, "https://vault.example.com/", redirect=redirect)
        assert response.status_code == 403
        assert response.headers["x-otpgate-reason"] == "not-allowed"
        assert "location" not in response.headers


def test_from_2fa_required_through_enrolment_back_to_the_site(web: Portal) -> None:
    """Follow the Location: the security page keeps rd, enrolment ends with a link to it."""
    web.user("erin")
    web.full_login("erin")
    location = verify(web, ERP).headers["location"]
    assert web.get(location.removeprefix("https://auth.example.com")).status_code == 200
    done = enable_2fa(web)
    assert _saved_codes_lead_to(web, done) == ERP
    assert verify(web, ERP).status_code == 200


def _saved_codes_lead_to(web: Portal, done: httpx.Response) -> str:
    """Where "I have saved them", on the recovery codes page, sends the browser."""
    shown = web.get(done.headers["location"])
    assert shown.status_code == 200 and 'id="recovery-codes"' in shown.text
    saved = web.client.post("/security/recovery-codes/saved",
                            data={"csrf_token": csrf_of(shown.text)})
    assert saved.status_code == 303
    return str(saved.headers["location"])
