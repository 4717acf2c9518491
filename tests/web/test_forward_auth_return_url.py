"""Return URLs after login: only local paths and protected domains, whatever the junk."""

from __future__ import annotations

import string
from urllib.parse import urlsplit

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otpgate.sites import Site, SitesConfig
from otpgate.web.return_url import validate_return_url

SITES = SitesConfig(
    sites=(
        Site(name="erp", domains=("erp.example.com",), users=frozenset({"*"})),
        Site(name="panel", domains=("*.panel.example.org",), users=frozenset({"*"})),
    )
)
COOKIE_DOMAIN = "example.com"


def allowed_host(host: str) -> bool:
    return (
        host == "erp.example.com"
        or host.endswith(".panel.example.org")
        or host == COOKIE_DOMAIN
        or host.endswith("." + COOKIE_DOMAIN)
    )


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/orders?id=7",
        "https://erp.example.com/",
        "http://erp.example.com:8080/a?b=c#d",
        "HTTPS://ERP.example.com/x",
        "https://a.panel.example.org/",
        "https://example.com/",
        "https://deep.sub.example.com/x",
    ],
)
def test_protected_places_are_accepted_unchanged(url: str) -> None:
    """Local paths and URLs on protected domains come back as given."""
    assert validate_return_url(url, SITES, COOKIE_DOMAIN) == url


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example.net/",
        "https://panel.example.org/",
        "https://erp.example.com.evil.net/",
        "https://notexample.com/",
        "//evil.example.net/x",
        "/\\evil.example.net",
        "https:evil.example.net",
        "https:/evil.example.net",
        "https:///evil.example.net",
        "https://erp.example.com@evil.example.net/",
        "https://user:pw@erp.example.com/",
        "https://evil.example.net\\@erp.example.com/",
        "https://evil.example.net\\.erp.example.com/",
        "https://erp.example.com%2f@evil.example.net/",
        "https://evil%2eexample.net/",
        "https://evil.example.net#@erp.example.com",
        "https://evil.example.net?@erp.example.com",
        "https://erp.example.com\t.evil.net/",
        "https://erp.example.com\n/",
        " https://erp.example.com/",
        "https://erp\u3002example\u3002com/",
        "https://[::1]/",
        "https://erp.example.com:99999/",
        "javascript:alert(1)//https://erp.example.com/",
        "data:text/html,https://erp.example.com/",
        "ftp://erp.example.com/",
        "",
        "https://erp.example.com/" + "a" * 2000,
    ],
)
def test_off_site_and_ambiguous_urls_are_refused(url: str) -> None:
    """Every classic open-redirect trick is refused."""
    assert validate_return_url(url, SITES, COOKIE_DOMAIN) is None


def test_without_cookie_domain_only_site_domains_count() -> None:
    """With no cookie domain, the bare domain of the cookie rule is no longer accepted."""
    assert validate_return_url("https://example.com/", SITES, "") is None
    assert validate_return_url("https://erp.example.com/", SITES, "") is not None


def test_non_strings_are_refused() -> None:
    """None, bytes and numbers are never a return URL."""
    for value in (None, b"/", 7, ["/"]):
        assert validate_return_url(value, SITES, COOKIE_DOMAIN) is None


def check_accepted(url: str) -> None:
    """An accepted URL is a local path or, for two independent parsers, a protected host."""
    result = validate_return_url(url, SITES, COOKIE_DOMAIN)
    if result is None:
        return
    assert result == url
    if url.startswith("/"):
        assert not url.startswith("//") and "\\" not in url
        # Resolved against the portal the way a client resolves a Location header.
        assert httpx.URL("https://auth.example.com/").join(url).host == "auth.example.com"
        return
    split = urlsplit(url)
    assert split.scheme.lower() in ("http", "https")
    assert split.hostname is not None and allowed_host(split.hostname)
    parsed = httpx.URL(url)
    assert allowed_host(parsed.host), (url, parsed.host)
    assert not parsed.userinfo


_ALPHABET = string.printable + "\\@#?:/%.\u3002\uff20\u200b\x00\x7f"
_PIECES = st.sampled_from(
    [
        "https://", "http://", "//", "/", "\\", "@", "erp.example.com", "example.com",
        "evil.net", ".", ":", ":443", "#", "?", "%2f", "%40", "a.panel.example.org",
        "panel.example.org", "user:pw@", "\t", " ", "javascript:",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=_ALPHABET, max_size=80))
def test_random_text_is_never_accepted_off_site(text: str) -> None:
    """Hypothesis: arbitrary text is accepted only when it is a safe local or site URL."""
    check_accepted(text)


@settings(max_examples=600, deadline=None)
@given(st.lists(_PIECES, min_size=1, max_size=8).map("".join))
def test_url_shaped_junk_is_never_accepted_off_site(text: str) -> None:
    """Hypothesis: junk built from URL pieces never passes for an off-site URL."""
    check_accepted(text)
