"""Forward auth: /auth/verify answers a proxy from the session cookie and the sites file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx2 as httpx
import pytest
from sqlalchemy import Engine
from web_pages_support import OPERATOR, Portal, proxied_portal

from otpgate.service import groups, users

SITES = """
login_url = "https://auth.example.com/login"

[[site]]
name = "erp"
domains = ["erp.example.com"]
groups = ["accounting"]

[[site]]
name = "erp-public"
domains = ["erp.example.com"]
paths = ["/public"]
users = ["*"]

[[site]]
name = "panel"
domains = ["*.panel.example.com"]
groups = ["admins"]
session_seconds = 600

[[site]]
name = "wiki"
domains = ["wiki.example.com"]
users = ["*"]
require_2fa = false
idle_seconds = 120
"""


@pytest.fixture
def web(engine: Engine, tmp_path: Path) -> Iterator[Portal]:
    with proxied_portal(engine, tmp_path, SITES) as harness:
        yield harness


def verify(web: Portal, url: str, *, redirect: bool = False, **headers: str) -> httpx.Response:
    path = "/auth/verify?redirect=1" if redirect else "/auth/verify"
    return web.client.get(path, headers={"X-Original-URL": url, **headers})


def test_without_a_session_the_proxy_is_sent_to_the_login_with_the_return_url(
    web: Portal,
) -> None:
    """No cookie: 401 with a Location to the login page carrying rd=<original URL>."""
    response = verify(web, "https://erp.example.com/orders?id=7")
    assert response.status_code == 401
    location = urlsplit(response.headers["location"])
    assert (location.scheme, location.netloc, location.path) == (
        "https", "auth.example.com", "/login"
    )
    assert parse_qs(location.query) == {"rd": ["https://erp.example.com/orders?id=7"]}
    assert response.headers["cache-control"] == "no-store"
    assert "x-otpgate-user" not in response.headers


def test_redirect_mode_answers_302_for_traefik_and_caddy(web: Portal) -> None:
    """With ?redirect=1 the same refusal is a 302 the proxy hands to the browser."""
    response = web.client.get(
        "/auth/verify?redirect=1",
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "erp.example.com",
                 "X-Forwarded-Uri": "/x"},
    )
    assert response.status_code == 302
    assert response.headers["location"].endswith("rd=https%3A%2F%2Ferp.example.com%2Fx")


def test_unknown_host_is_refused_without_a_redirect(web: Portal) -> None:
    """A host of no protected site gets 403 and no Location (no redirect elsewhere)."""
    for url in ("https://evil.example.net/", "https://erp.example.com.evil.net/",
                "https://user@erp.example.com/", "ftp://erp.example.com/", "garbage"):
        response = verify(web, url)
        assert response.status_code == 403, url
        assert "location" not in response.headers
    assert web.client.get("/auth/verify").status_code == 403


def test_password_only_session_is_not_enough(web: Portal) -> None:
    """A half-logged-in session (password, code still due) gets 401."""
    web.enrolled("carol")
    groups.add_to_group(web.ctx, OPERATOR, None, users.find_user(web.ctx, "carol").id,
                        "accounting")
    assert web.login("carol").headers["location"] == "/login/2fa"
    assert verify(web, "https://erp.example.com/").status_code == 401


def test_full_session_of_an_allowed_user_passes_with_identity_headers(web: Portal) -> None:
    """Password + code and membership of an allowed group: 200 and who it is."""
    user, _ = web.enrolled("carol")
    web.full_login("carol")
    assert verify(web, "https://erp.example.com/").status_code == 403
    groups.add_to_group(web.ctx, OPERATOR, None, user.id, "accounting")
    response = verify(web, "https://erp.example.com/orders")
    assert response.status_code == 200
    assert response.headers["x-otpgate-user"] == "carol"
    assert response.headers["x-otpgate-groups"] == "accounting"
    assert "x-otpgate-email" in response.headers


def test_user_outside_the_site_rule_is_refused_but_public_path_admits_everyone(
    web: Portal,
) -> None:
    """Not in the group: 403 on the site, 200 under its /public prefix (longest wins)."""
    web.enrolled("dave")
    web.full_login("dave")
    response = verify(web, "https://erp.example.com/orders")
    assert response.status_code == 403
    assert response.headers["x-otpgate-reason"] == "not-allowed"
    assert verify(web, "https://erp.example.com/public/page").status_code == 200
    assert verify(web, "https://erp.example.com/publicity").status_code == 403
    # Judged as the proxy routes it: the dot segments lead back to the guarded part.
    assert verify(web, "https://erp.example.com/public/../orders").status_code == 403
    assert verify(web, "https://erp.example.com/public/%2e%2e/orders").status_code == 403


def test_admins_form_an_implicit_group_on_wildcard_domains(web: Portal) -> None:
    """An admin passes a site open to the group "admins"; a non-admin does not."""
    web.enrolled("root", admin=True)
    web.full_login("root")
    response = verify(web, "https://a.panel.example.com/")
    assert response.status_code == 200
    assert response.headers["x-otpgate-groups"] == "admins"
    assert verify(web, "https://panel.example.com/").status_code == 403  # apex not covered


def test_site_requiring_2fa_refuses_an_account_without_it(web: Portal) -> None:
    """A full session of an account without 2FA: 403 where 2FA is required, 200 where not."""
    web.user("erin")
    web.full_login("erin")
    response = verify(web, "https://erp.example.com/public/")
    assert response.status_code == 403
    assert response.headers["x-otpgate-reason"] == "2fa-required"
    assert verify(web, "https://wiki.example.com/").status_code == 200


def test_site_lifetime_shorter_than_the_portal_ends_the_session(web: Portal) -> None:
    """A login older than the site's session_seconds must be redone: 401, session gone."""
    web.enrolled("root", admin=True)
    web.full_login("root")
    assert verify(web, "https://a.panel.example.com/").status_code == 200
    web.clock.advance(601)
    assert verify(web, "https://a.panel.example.com/").status_code == 401
    assert verify(web, "https://erp.example.com/public/").status_code == 401


def test_site_inactivity_timeout_and_refresh(web: Portal) -> None:
    """Use within the site's idle_seconds keeps the session; a longer pause ends it."""
    web.user("erin")
    web.full_login("erin")
    for _ in range(5):
        web.clock.advance(100)
        assert verify(web, "https://wiki.example.com/").status_code == 200
    web.clock.advance(200)
    assert verify(web, "https://wiki.example.com/").status_code == 401


def test_logout_and_deactivation_end_access(web: Portal) -> None:
    """After logout the old cookie is worthless; a deactivated user is refused too."""
    web.user("erin")
    web.full_login("erin")
    old = web.session_id
    assert verify(web, "https://wiki.example.com/").status_code == 200
    web.logout()
    assert verify(web, "https://wiki.example.com/").status_code == 401
    web.client.cookies.clear()
    response = web.client.get(
        "/auth/verify", headers={"X-Original-URL": "https://wiki.example.com/",
                                 "Cookie": f"otpgate_session={old}"},
    )
    assert response.status_code == 401

    user = web.user("frank")
    web.full_login("frank")
    assert verify(web, "https://wiki.example.com/").status_code == 200
    users.deactivate_user(web.ctx, OPERATOR, None, user.id)
    assert verify(web, "https://wiki.example.com/").status_code == 401


def test_login_returns_to_a_protected_url_after_the_second_factor(web: Portal) -> None:
    """/login?rd=<protected URL> → password → code → 303 to that URL."""
    web.enrolled("carol")
    web.get("/login?rd=https%3A%2F%2Ferp.example.com%2Forders%3Fid%3D7")
    assert web.login("carol").headers["location"] == "/login/2fa"
    done = web.submit("/login/2fa", "/login/2fa", {"code": web.code("carol")})
    assert done.status_code == 303
    assert done.headers["location"] == "https://erp.example.com/orders?id=7"


def test_login_returns_to_a_protected_url_after_the_password_alone(web: Portal) -> None:
    """An account without 2FA (?next= spelling) goes back right after the password."""
    web.user("erin")
    web.get("/login?next=https://wiki.example.com/page")
    assert web.login("erin").headers["location"] == "https://wiki.example.com/page"


@pytest.mark.parametrize(
    "rd",
    [
        "https://evil.example.net/",
        "//evil.example.net/",
        "https://erp.example.com@evil.example.net/",
        "https://evil.example.net\\@erp.example.com/",
        "javascript:alert(1)",
        "https://erp.example.com.evil.net/",
    ],
)
def test_login_ignores_an_off_site_return_url(web: Portal, rd: str) -> None:
    """An off-site rd is dropped: after login the browser lands on the portal's home."""
    web.user("erin")
    web.get("/login", params={"rd": rd})
    assert web.login("erin").headers["location"] == "/"


def test_session_cookie_carries_the_configured_domain(web: Portal) -> None:
    """OTPGATE_COOKIE_DOMAIN: the session cookie is sent to every subdomain."""
    response = web.get("/login")
    cookie = response.headers["set-cookie"]
    assert "otpgate_session=" in cookie and "Domain=example.com" in cookie
    assert "HttpOnly" in cookie


def test_identity_headers_escape_non_ascii_values(web: Portal) -> None:
    """An e-mail address with non-ASCII letters reaches the proxy percent-encoded."""
    web.user("gina", email="gïna@example.com")
    web.full_login("gina")
    response = verify(web, "https://wiki.example.com/")
    assert response.status_code == 200
    assert response.headers["x-otpgate-email"] == "g%C3%AFna@example.com"
    assert response.headers["x-otpgate-groups"] == ""
