"""Pages: who may reach what (session levels on every route), CSRF on every POST,
cookie flags, security headers, caching, error pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import Engine
from web_pages_support import Portal, csrf_of, portal, text_of

from otpgate.web.app import PAGE_MODULES
from otpgate.web.headers import CONTENT_SECURITY_POLICY

# Every page a half-logged-in session may use; everything else sends it to the 2FA page.
HALF_ALLOWED = {
    ("GET", "/login/2fa"), ("POST", "/login/2fa"),
    ("GET", "/login/recovery"), ("POST", "/login/recovery"),
    ("GET", "/login/2fa/resync"), ("POST", "/login/2fa/resync"),
    ("POST", "/login/passkey/options"), ("POST", "/login/passkey"),
    ("POST", "/login/cancel"), ("POST", "/logout"), ("POST", "/lang"),
}


@pytest.fixture
def web(engine: Engine, tmp_path: Path) -> Iterator[Portal]:
    with portal(engine, tmp_path) as harness:
        yield harness


def _page_routes(web: Portal) -> list[tuple[str, str]]:
    """(method, path) of every page route, path parameters filled with 1."""
    found = []
    routes = [route for module in PAGE_MODULES for route in module.router.routes]
    for route in routes:
        assert isinstance(route, APIRoute)
        path = re.sub(r"\{[^}]+\}", "1", route.path)
        for method in sorted((route.methods or set()) - {"HEAD"}):
            found.append((method, path))
    assert len(found) > 25
    return found


def test_a_half_logged_in_session_reaches_nothing_but_the_second_step(web: Portal) -> None:
    """Every page route other than the 2FA ones sends a password-only session to /login/2fa."""
    web.enrolled("alice", admin=True)
    web.login("alice")
    token = csrf_of(web.get("/login/2fa").text)
    for method, path in _page_routes(web):
        if (method, path) in HALF_ALLOWED:
            continue
        if method == "GET":
            response = web.client.get(path)
        else:
            response = web.client.post(path, data={"csrf_token": token, "lang": "en"})
        assert response.status_code == 303, (method, path, response.status_code)
        assert response.headers["location"] == "/login/2fa", (method, path)
    # Still half logged in, still able to finish.
    done = web.client.post("/login/2fa", data={"csrf_token": token, "code": web.code("alice")})
    assert done.headers["location"] == "/"


def test_the_api_does_not_accept_a_portal_session(web: Portal) -> None:
    """A full portal session is no API credential."""
    web.enrolled("bob", admin=True)
    web.full_login("bob")
    assert web.get("/api/v1/audit").status_code == 401


def test_an_anonymous_visitor_reaches_only_login_and_setup(web: Portal) -> None:
    """Without login, every account or admin page sends to /login."""
    web.get("/login")
    token = csrf_of(web.get("/login").text)
    for method, path in _page_routes(web):
        if path in {"/login", "/setup", "/lang", "/logout", "/login/cancel",
                    "/login/passwordless/options", "/login/passwordless"}:
            continue
        if method == "GET":
            response = web.client.get(path)
        else:
            response = web.client.post(path, data={"csrf_token": token})
        assert response.status_code == 303, (method, path, response.status_code)
        assert response.headers["location"] == "/login", (method, path)


def test_admin_pages_are_refused_to_non_admins(web: Portal) -> None:
    """A full session of a plain user gets a 403 page on admin routes."""
    web.user("carl")
    web.full_login("carl")
    for path in ("/admin/users", "/admin/audit", "/admin/policy", "/admin/users/1"):
        response = web.get(path)
        assert response.status_code == 403, path
        assert "You are not allowed to do this." in text_of(response.text)


def test_every_post_without_the_csrf_token_is_refused(web: Portal) -> None:
    """A POST to any page route without (or with a wrong) CSRF token is a 403 page."""
    web.enrolled("dora", admin=True)
    web.full_login("dora")
    posts = [path for method, path in _page_routes(web) if method == "POST"]
    for path in posts:
        for data in ({}, {"csrf_token": "forged"}):
            response = web.client.post(path, data=data)
            assert response.status_code == 403, (path, data, response.status_code)
            assert "The form has expired" in text_of(response.text)
    assert web.get("/").status_code == 200


def test_csrf_token_of_another_session_is_refused(web: Portal) -> None:
    """A token taken from another visitor's session does not work in this one."""
    web.user("egon")
    other = web.get("/login")
    stolen = csrf_of(other.text)
    web.client.cookies.clear()
    web.get("/login")
    response = web.client.post("/login", data={"csrf_token": stolen, "username": "egon",
                                               "password": "x" * 12})
    assert response.status_code == 403


def test_session_cookie_flags(web: Portal) -> None:
    """HttpOnly, SameSite=Lax, Path=/; no Secure over plain HTTP without the setting."""
    response = web.get("/login")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("otpgate_session=")
    for flag in ("HttpOnly", "SameSite=Lax", "Path=/"):
        assert flag in cookie
    assert "Secure" not in cookie


def test_session_cookie_is_secure_behind_an_https_proxy_only_when_trusted(
    engine: Engine, tmp_path: Path
) -> None:
    """X-Forwarded-Proto: https makes the cookie Secure only with trust_proxy_headers."""
    headers = {"X-Forwarded-Proto": "https"}
    with portal(engine, tmp_path, trust_proxy_headers=True) as trusted:
        assert "Secure" in trusted.client.get("/login", headers=headers).headers["set-cookie"]
    with portal(engine, tmp_path) as untrusted:
        assert "Secure" not in untrusted.client.get(
            "/login", headers=headers).headers["set-cookie"]


def test_session_cookie_is_secure_with_the_setting(engine: Engine, tmp_path: Path) -> None:
    """cookie_secure=True marks every cookie Secure."""
    with portal(engine, tmp_path, cookie_secure=True) as web:
        assert "Secure" in web.client.get("/login").headers["set-cookie"]


def test_device_cookie_flags(web: Portal) -> None:
    """The trusted-device cookie is HttpOnly, SameSite=Lax, with a 30-day lifetime."""
    web.enrolled("finn")
    web.login("finn")
    page = web.get("/login/2fa")
    response = web.client.post("/login/2fa", data={
        "csrf_token": csrf_of(page.text), "code": web.code("finn"), "trust": "yes"})
    cookies = response.headers.get_list("set-cookie")
    device = next(c for c in cookies if c.startswith("otpgate_device="))
    for flag in ("HttpOnly", "SameSite=Lax", f"Max-Age={30 * 86400}"):
        assert flag in device


def test_security_headers_on_pages_and_no_inline_code(web: Portal) -> None:
    """CSP without 'unsafe-inline', framing refused, no-store, and no inline script/style."""
    web.enrolled("gina", admin=True)
    web.full_login("gina")
    for path in ("/login", "/", "/security", "/admin/users", "/admin/audit", "/admin/policy",
                 "/security/step-up", "/nope"):
        response = web.get(path)
        headers = response.headers
        assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "unsafe-inline" not in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["cache-control"] == "no-store"
        html = response.text
        assert "<style" not in html and " style=" not in html, path
        for script in re.findall(r"<script[^>]*>", html):
            assert 'src="/static/' in script, path
        assert not re.search(r"\son[a-z]+=", html), path


def test_static_files_are_cacheable_and_carry_the_headers(web: Portal) -> None:
    """CSS and JS are served from /static with the security headers, without no-store."""
    for path in ("/static/otpgate.css", "/static/otpgate.js"):
        response = web.get(path)
        assert response.status_code == 200
        assert "no-store" not in response.headers.get("cache-control", "")
        assert response.headers["x-content-type-options"] == "nosniff"


def test_unknown_page_is_a_404_page_without_traceback(web: Portal) -> None:
    """A missing page is an HTML 404 with one line, no stack trace."""
    response = web.get("/does/not/exist")
    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"]
    assert "This page does not exist." in text_of(response.text)
    assert "Traceback" not in response.text


def test_bad_path_parameter_is_a_400_page(web: Portal) -> None:
    """A non-numeric id in a page URL is a 400 page, not a JSON validation error."""
    web.enrolled("hugo", admin=True)
    web.full_login("hugo")
    response = web.get("/admin/users/abc")
    assert response.status_code == 400
    assert "text/html" in response.headers["content-type"]


def test_unknown_user_page_is_a_404_page(web: Portal) -> None:
    """An admin opening a user id that does not exist sees a 404 page."""
    web.enrolled("ines", admin=True)
    web.full_login("ines")
    assert web.get("/admin/users/999999").status_code == 404


def test_openapi_documents_the_api_only(web: Portal) -> None:
    """/openapi.json lists API paths and none of the pages."""
    paths = web.get("/openapi.json").json()["paths"]
    assert paths and all(p.startswith("/api/") for p in paths)


def test_client_address_comes_from_the_proxy_only_when_trusted(
    engine: Engine, tmp_path: Path
) -> None:
    """X-Forwarded-For lands in the audit log only with trust_proxy_headers."""
    with portal(engine, tmp_path, trust_proxy_headers=True) as web:
        web.user("jack")
        web.client.headers["X-Forwarded-For"] = "198.51.100.9, 203.0.113.50"
        web.full_login("jack")
        assert "203.0.113.50" in text_of(web.get("/security").text)
