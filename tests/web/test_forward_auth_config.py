"""Forward auth configuration: the sites file, site matching and the cookie domain setting."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otpgate.config import ConfigError, Settings
from otpgate.site_paths import Spelling, path_spellings
from otpgate.sites import (
    Site,
    SitesConfig,
    SitesError,
    load_sites,
    normalise_host,
    normalise_path,
    parse_sites,
)


def sites(text: str) -> SitesConfig:
    return parse_sites(tomllib.loads(text))


def test_a_full_site_table_is_read_with_defaults() -> None:
    """Every key is read; paths default to "/", 2FA to required, names to lower case."""
    config = sites(
        """
        login_url = "https://auth.example.com/login"
        [[site]]
        name = "erp"
        domains = ["ERP.example.com", "*.erp.example.com"]
        users = ["Alice"]
        groups = ["Accounting"]
        session_seconds = 3600
        idle_seconds = 600
        """
    )
    assert config.login_url == "https://auth.example.com/login"
    assert config.sites == (
        Site(
            name="erp",
            domains=("erp.example.com", "*.erp.example.com"),
            paths=("/",),
            users=frozenset({"alice"}),
            groups=frozenset({"accounting"}),
            require_2fa=True,
            session_seconds=3600,
            idle_seconds=600,
        ),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "at least one [[site]]"),
        ('colour = "blue"\n[[site]]\ndomains=["a.example"]\nusers=["*"]', "unknown key"),
        ('[[site]]\ndomains=["a.example"]\nuser=["x"]', "unknown key 'user'"),
        ('[[site]]\ndomains=["a.example"]', "say who may enter"),
        ('[[site]]\ndomains=[]\nusers=["*"]', "at least one host"),
        ('[[site]]\ndomains=["a.example/x"]\nusers=["*"]', "not a host name"),
        ('[[site]]\ndomains=["a.*.example"]\nusers=["*"]', "not a host name"),
        ('[[site]]\ndomains=["a.example"]\nusers=["*"]\npaths=["admin"]', "plain path"),
        ('[[site]]\ndomains=["a.example"]\nusers=["*"]\npaths=["/a/../b"]', "plain path"),
        ('[[site]]\ndomains=["a.example"]\nusers=["*"]\nrequire_2fa="no"', "true or false"),
        ('[[site]]\ndomains=["a.example"]\nusers=["*"]\nidle_seconds=5', "at least 60"),
        ('[[site]]\ndomains=["a.example"]\ngroups=["*"]', "belongs in users"),
        ('[[site]]\ndomains=["a.example"]\nusers=["a b"]', "not a valid name"),
        ('[[site]]\ndomains="a.example"\nusers=["*"]', "list of strings"),
        ('login_url = "javascript:x"\n[[site]]\ndomains=["a.example"]\nusers=["*"]',
         "login_url"),
        ('[[site]]\ndomains=["a.example"]\nusers=["*"]', "verify?site="),
        ('[[site]]\nname="a b"\ndomains=["a.example"]\nusers=["*"]', "verify?site="),
        ('[[site]]\nname=7\ndomains=["a.example"]\nusers=["*"]', "name must be text"),
        ('[[site]]\nname="a"\ndomains=["a.example"]\nusers=["*"]\n'
         '[[site]]\nname="a"\ndomains=["b.example"]\nusers=["*"]', "two sites are named 'a'"),
        ('[[site]]\nname="a"\ndomains=["a.example"]\nusers=["*"]\npaths=["/a;b"]',
         "plain path"),
    ],
)
def test_mistakes_in_the_sites_file_are_named(text: str, message: str) -> None:
    """Each kind of mistake is one SitesError (a ConfigError) that says what is wrong."""
    with pytest.raises(SitesError) as caught:
        sites(text)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert isinstance(caught.value, ConfigError)


def test_load_sites_reports_unreadable_and_invalid_files(tmp_path: Path) -> None:
    """A missing file and a file that is not TOML give one-line errors."""
    with pytest.raises(SitesError, match="cannot read"):
        load_sites(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[[site]\n", encoding="utf-8")
    with pytest.raises(SitesError, match="not valid TOML"):
        load_sites(bad)


def test_longest_path_then_exact_domain_then_file_order_chooses_the_site() -> None:
    """Site selection: the longest prefix wins, then an exact host over a wildcard."""
    config = sites(
        """
        [[site]]
        name = "all"
        domains = ["*.example.com"]
        users = ["*"]
        [[site]]
        name = "app"
        domains = ["app.example.com"]
        users = ["*"]
        [[site]]
        name = "admin"
        domains = ["*.example.com"]
        paths = ["/admin/"]
        groups = ["admins"]
        """
    )

    def chosen(host: str, path: str) -> str | None:
        site = config.site_for(host, path)
        return site.name if site else None

    assert chosen("app.example.com", "/") == "app"
    assert chosen("x.example.com", "/") == "all"
    assert chosen("app.example.com", "/admin") == "admin"
    assert chosen("app.example.com", "/admin/users") == "admin"
    assert chosen("app.example.com", "/administrator") == "app"
    assert chosen("example.com", "/") is None
    assert chosen("app.example.com.evil.net", "/") is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/", "/"),
        ("/a/b?x=1#f", "/a/b"),
        ("//a///b/", "/a/b/"),
        ("/a/./b/../c", "/a/c"),
        ("/a/%2e%2e/b", "/b"),
        ("/a/%2fb", "/a/b"),
        ("/..", None),
        ("/a/../../b", None),
        ("/a\\b", None),
        ("/a%00b", None),
        ("/a%ff", None),
        ("a/b", None),
        ("", None),
    ],
)
def test_paths_are_judged_as_the_proxy_routes_them(raw: str, expected: str | None) -> None:
    """Percent-escapes decoded, dot segments resolved, odd paths refused."""
    assert normalise_path(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/a/b", {"/a/b"}),
        ("/A;x/b", {"/A;x/b", "/A/b", "/a;x/b", "/a/b"}),
        ("/a%2fb", {"/a%2fb", "/a/b"}),
        ("/p/%2e%2e/a", {"/p/%2e%2e/a", "/a"}),
        ("/p/%252e%252e/a", {"/p/%252e%252e/a", "/p/%2e%2e/a", "/a"}),
        ("/p/..;/a", {"/p/..;/a", "/a"}),
        ("/..;/a", None),
        ("/a%25ff", None),
        ("/a%255c", None),
    ],
)
def test_path_spellings_cover_each_reading_an_upstream_may_make(
    raw: str, expected: set[str] | None
) -> None:
    """Undecoded, decoded once and twice, with and without ;params, lower-cased too."""
    spellings = path_spellings(raw)
    if expected is None:
        assert spellings is None
        return
    assert spellings is not None
    assert spellings[0] == Spelling(normalise_path(raw) or "")
    assert {s.path for s in spellings} == expected | {p.lower() for p in expected}
    assert all(s.path == s.path.lower() for s in spellings if s.folded)


def test_a_guarded_prefix_governs_every_spelling_and_the_named_site_wins_ties() -> None:
    """rule_for: /ADMIN and /admin;x bring in the /admin site; a named wildcard site keeps
    its root against another site's exact host."""
    config = sites(
        """
        [[site]]
        name = "app"
        domains = ["app.example.com"]
        users = ["*"]
        [[site]]
        name = "admin"
        domains = ["app.example.com"]
        paths = ["/Admin"]
        groups = ["admins"]
        [[site]]
        name = "star"
        domains = ["*.example.com"]
        groups = ["ops"]
        """
    )

    def names(host: str, path: str, named: str | None = None) -> list[str] | None:
        site = config.site_named(named) if named else None
        rule = config.rule_for(host, path, named=site)
        return [s.name for s in rule.sites] if rule else None

    assert names("app.example.com", "/orders") == ["app"]
    assert names("app.example.com", "/Admin/x") == ["admin"]
    assert names("app.example.com", "/admin") == ["app", "admin"]
    assert names("app.example.com", "/ADMIN;x") == ["app", "admin"]
    assert names("app.example.com", "/x/..;/Admin") == ["app", "admin"]
    assert names("app.example.com", "/", "star") == ["star"]
    assert names("app.example.com", "/Admin", "star") == ["admin"]
    assert names("other.example.com", "/admin", "app") == ["star"]
    assert names("app.example.com", "/a%ff") is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Erp.Example.com", "erp.example.com"),
        ("erp.example.com:8443", "erp.example.com"),
        ("127.0.0.1:80", "127.0.0.1"),
        ("erp.example.com:99999", None),
        ("user@erp.example.com", None),
        ("erp.example.com.", None),
        ("[::1]:80", None),
        ("erp%2eexample.com", None),
        ("", None),
    ],
)
def test_hosts_are_lower_cased_without_port_and_odd_ones_refused(
    raw: str, expected: str | None
) -> None:
    """Host headers: the name alone, lower case; anything unusual is None."""
    assert normalise_host(raw) == expected


def test_cookie_domain_setting_is_checked() -> None:
    """OTPGATE_COOKIE_DOMAIN takes a plain domain (leading dot allowed), nothing else."""
    assert Settings.from_env({"OTPGATE_COOKIE_DOMAIN": ".Example.COM"}).cookie_domain == (
        "example.com"
    )
    assert Settings.from_env({}).cookie_domain == ""
    for bad in ("example.com; SameSite=None", "exa mple.com", "-x.com", "a..com"):
        with pytest.raises(ConfigError, match="OTPGATE_COOKIE_DOMAIN"):
            Settings.from_env({"OTPGATE_COOKIE_DOMAIN": bad})
    assert Settings.from_env({"OTPGATE_SITES_FILE": "/etc/otpgate/sites.toml"}).sites_file == (
        Path("/etc/otpgate/sites.toml")
    )


_PATH_PIECES = ["/", ".", "..", "%2e", "%2E", "%2f", "%", "ff", "a", "\\", "?", "#", "%00"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PATH_PIECES), max_size=12).map("".join))
def test_path_normalisation_never_fails_and_leaves_no_dot_segment(raw: str) -> None:
    """Hypothesis: any text gives None or a clean absolute path without . or .. segments."""
    path = normalise_path("/" + raw)
    if path is not None:
        assert path.startswith("/") and "//" not in path
        assert not {".", ".."} & set(path.split("/"))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_host_normalisation_never_fails(raw: str) -> None:
    """Hypothesis: any header text gives None or a plain lower-case host name."""
    host = normalise_host(raw)
    assert host is None or (host == host.lower() and host.isascii() and ":" not in host)


_SPELLING_PIECES = [*_PATH_PIECES, ";", ";x", "A", "%25", "%3b", "%41", "%252e"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_SPELLING_PIECES), max_size=12).map("".join))
def test_path_spellings_are_clean_and_start_with_the_routed_path(raw: str) -> None:
    """Hypothesis: None, or the routed path first and no spelling with a dot segment, an
    empty segment or, when folded, a capital."""
    spellings = path_spellings("/" + raw)
    if spellings is None:
        return
    assert spellings[0] == Spelling(normalise_path("/" + raw) or "")
    for spelling in spellings:
        assert spelling.path.startswith("/") and "//" not in spelling.path
        assert not {".", ".."} & set(spelling.path.split("/"))
        assert not spelling.folded or spelling.path == spelling.path.lower()
