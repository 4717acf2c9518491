"""Through a real nginx: a request cannot be routed to one site and judged as another, no
spelling of a guarded path slips through, and the upstream never sees otpgate's cookie.

The ERP admits group "staff" (2FA required) and its /admin only "admins"; the wiki admits
everyone, password alone enough. ed (2FA, no group) and walt (no 2FA, no group) may use
the wiki only; dora is staff. See nginx_stack.py for the server blocks.
"""

from __future__ import annotations

import itertools

import pytest

from .nginx_stack import Reply, Stack, session_of

_unique = itertools.count()


def _fresh(path: str) -> str:
    # A query the upstream can be searched for: did this very request reach it?
    joiner = "" if path.endswith("&") else "?"
    return f"{path}{joiner}n={next(_unique)}"


def _get(stack: Stack, target: str, host: str, cookie: str, *, legacy: bool = False,
         **headers: str) -> Reply:
    sent = {"Host": host, "Cookie": f"otpgate_session={cookie}", **headers}
    return stack.raw(target, sent, legacy=legacy)


def _reached(stack: Stack, target: str) -> bool:
    path = target.split("example.com", 1)[-1]
    return path in stack.upstream_seen


def _upstream_cookie(reply: Reply) -> str | None:
    cookies = [v for k, v in reply.json()["headers"] if k.lower() == "cookie"]
    assert len(cookies) <= 1
    return cookies[0] if cookies else None


@pytest.mark.parametrize("legacy", [False, True], ids=["readme", "host-from-client"])
@pytest.mark.parametrize("username", ["ed", "walt"])
def test_absolute_form_request_line_cannot_borrow_the_wikis_rules(
    stack: Stack, username: str, legacy: bool
) -> None:
    """``GET http://erp…/secret`` with ``Host: wiki…``: nginx routes to the ERP, so the ERP's
    rules apply (ed is not staff, walt has no 2FA); the wiki itself lets them in."""
    cookie = session_of(stack, username)
    wiki = _fresh("/secret")
    assert _get(stack, wiki, "wiki.example.com", cookie, legacy=legacy).status == 200
    assert _reached(stack, wiki)

    crossed = _fresh("http://erp.example.com/secret")
    reply = _get(stack, crossed, "wiki.example.com", cookie, legacy=legacy)
    assert reply.status == 403
    assert not _reached(stack, crossed)


@pytest.mark.parametrize("legacy", [False, True], ids=["readme", "forwarded-host-from-client"])
def test_a_forwarded_host_from_the_client_does_not_choose_the_site(
    stack: Stack, legacy: bool
) -> None:
    """ed sends ``X-Forwarded-Host: wiki…`` to the ERP: refused, also behind a location
    that lets the header through to otpgate; dora (staff) still passes there."""
    prefix = "/fwd" if legacy else ""
    dora = _fresh(f"{prefix}/orders")
    reply = _get(stack, dora, "erp.example.com", session_of(stack, "dora"), legacy=legacy,
                 **{"X-Forwarded-Host": "erp.example.com"})
    assert reply.status == 200 and _reached(stack, dora)

    ed = session_of(stack, "ed")
    # The site is in the auth URL nginx builds; the client's query never reaches it.
    named = _fresh(f"{prefix}/orders?site=wiki&")
    assert _get(stack, named, "erp.example.com", ed, legacy=legacy).status == 403
    assert not _reached(stack, named)
    for forwarded in ("wiki.example.com", "wiki.example.com, erp.example.com"):
        target = _fresh(f"{prefix}/orders")
        reply = _get(stack, target, "erp.example.com", ed, legacy=legacy,
                     **{"X-Forwarded-Host": forwarded})
        assert reply.status == 403, forwarded
        assert not _reached(stack, target)


@pytest.mark.parametrize(
    "path",
    ["/admin", "/ADMIN", "/Admin/users", "/admin;x", "/admin;jsessionid=1/users", "//admin",
     "/%2e/admin", "/public/%2e%2e/admin", "/public/..;/admin", "/admin%2fusers",
     "/%2561dmin", "//ADMIN;x"],
)
def test_no_spelling_of_admin_reaches_the_upstream(stack: Stack, path: str) -> None:
    """dora is staff but not an admin: /orders passes, every spelling of /admin is 403."""
    cookie = session_of(stack, "dora")
    orders = _fresh("/orders")
    assert _get(stack, orders, "erp.example.com", cookie).status == 200
    target = _fresh(path)
    reply = _get(stack, target, "erp.example.com", cookie)
    assert reply.status == 403
    assert not _reached(stack, target)


@pytest.mark.parametrize(
    ("cookies", "expected"),
    [
        ("theme=dark; otpgate_session={s}; erp_sid=abc", "theme=dark;erp_sid=abc"),
        ("otpgate_session={s}; erp_sid=abc", "erp_sid=abc"),
        ("erp_sid=abc; otpgate_session={s}", "erp_sid=abc;"),
        ("xotpgate_session=1; otpgate_session={s}", "xotpgate_session=1;"),
        ("otpgate_session={s}", None),
        ("a=1; otpgate_session={s}; OTPGATE_SESSION=2", None),
    ],
)
def test_the_upstream_never_sees_the_session_cookie(
    stack: Stack, cookies: str, expected: str | None
) -> None:
    """The ERP gets every other cookie (none when the header is doubtful), and never the
    session, which otpgate itself still read."""
    session = session_of(stack, "dora")
    target = _fresh("/orders")
    reply = stack.raw(target, {"Host": "erp.example.com", "Cookie": cookies.format(s=session)})
    assert reply.status == 200
    assert _upstream_cookie(reply) == expected
    assert session not in reply.body.decode()
