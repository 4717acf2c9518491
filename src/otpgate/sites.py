"""Protected sites: which hosts and paths the forward-auth endpoint guards, and for whom.

Read once at start from the TOML file named by ``OTPGATE_SITES_FILE``, like the other
settings; a mistake in it is a :class:`SitesError` naming the site and the key.

.. code-block:: toml

    login_url = "https://auth.example.com/login"   # optional: OTPGATE_BASE_URL + /login

    [[site]]
    name = "erp"
    domains = ["erp.example.com"]     # exact host, or "*.example.com" for any subdomain
    paths = ["/"]                     # path prefixes, on "/" boundaries (default ["/"])
    users = ["alice"]                 # "*" = every active user
    groups = ["accounting", "admins"] # "admins" = every administrator
    require_2fa = true                # default true
    session_seconds = 28800           # optional: a login older than this must be redone
    idle_seconds = 1800               # optional: so must one unused for this long

Each site has a unique ``name``: the proxy block that serves the site writes it in its
auth URL (``/auth/verify?site=erp``), and the host of the request must be one of that
site's domains.
Within those hosts the site governs every path, except the longer path prefixes another
site of the same host lists. Among sites not named, the longest prefix wins, then an
exact domain over a wildcard, then the first in the file. Ports are ignored. Each
spelling of the path an upstream may read (see :mod:`otpgate.site_paths`) is matched,
and the request must satisfy every site they select. A site must name who may enter
(``users`` or ``groups``), so a forgotten list closes the site instead of opening it.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from otpgate.config import ConfigError
from otpgate.site_paths import Spelling, normalise_path, path_spellings
from otpgate.site_rules import EVERYONE, AccessRule, Site, host_matches

__all__ = [
    "EVERYONE",
    "AccessRule",
    "Site",
    "SitesConfig",
    "SitesError",
    "host_matches",
    "load_sites",
    "normalise_host",
    "normalise_path",
    "parse_sites",
]

_LABEL = r"[a-z0-9]([a-z0-9-]*[a-z0-9])?"
_HOST = re.compile(rf"(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*")
_HOST_PORT = re.compile(r"(?P<host>[A-Za-z0-9.-]+)(:(?P<port>[0-9]{1,5}))?")
_LOGIN_URL = re.compile(r"(https?://[!-~]+|/[!-~]*)")
_NAME = re.compile(r"[a-z0-9._@-]{1,150}")
_SITE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_SITE_KEYS = frozenset(
    {"name", "domains", "paths", "users", "groups", "require_2fa", "session_seconds",
     "idle_seconds"}
)
_MIN_SECONDS = 60


class SitesError(ConfigError):
    """The sites file cannot be used; the message says where and why."""


def normalise_host(value: object) -> str | None:
    """The lower-case host name of a ``Host``-style value (port dropped), or None."""
    if not isinstance(value, str):
        return None
    match = _HOST_PORT.fullmatch(value.strip())
    if match is None:
        return None
    port = match.group("port")
    if port is not None and not 0 < int(port) < 65536:
        return None
    host = match.group("host").lower()
    return host if _HOST.fullmatch(host) else None


@dataclass(frozen=True)
class SitesConfig:
    """Every protected site, and where their users log in."""

    sites: tuple[Site, ...] = ()
    login_url: str = ""

    def site_named(self, name: str) -> Site | None:
        """The site of this exact name, or None."""
        return next((site for site in self.sites if site.name == name), None)

    def site_for(
        self, host: str, path: str | Spelling, *, named: Site | None = None
    ) -> Site | None:
        """The site a request for ``host`` + normalised ``path`` belongs to, or None.

        With ``named`` (the site the proxy says it serves), that site wins ties: another
        site of the same host takes over only the longer path prefixes it lists.
        """
        spelling = path if isinstance(path, Spelling) else Spelling(path)
        best: tuple[tuple[int, bool, int, int], Site] | None = None
        for index, site in enumerate(self.sites):
            rank = site.rank(host, spelling)
            if rank is None:
                continue
            key = (rank[0], site is named, rank[1], -index)
            if best is None or key > best[0]:
                best = (key, site)
        return best[1] if best is not None else None

    def rule_for(self, host: str, raw_path: str, *, named: Site | None = None) -> AccessRule | None:
        """The rule for ``host`` + the path as sent (undecoded), or None to refuse.

        None when the path cannot be read or one of its spellings selects no site.
        """
        spellings = path_spellings(raw_path)
        if spellings is None:
            return None
        chosen: list[Site] = []
        for spelling in spellings:
            site = self.site_for(host, spelling, named=named)
            if site is None:
                return None
            if all(site is not other for other in chosen):
                chosen.append(site)
        return AccessRule(tuple(chosen))

    def covers_host(self, host: str) -> bool:
        """True when some site lists this host (exactly or under a wildcard)."""
        return any(s.covers(host) for s in self.sites)


def load_sites(path: Path) -> SitesConfig:
    """Read and check the sites file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SitesError(f"cannot read the sites file {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SitesError(f"the sites file {path} is not valid TOML: {exc}") from None
    return parse_sites(data)


def parse_sites(data: Mapping[str, Any]) -> SitesConfig:
    """Check the parsed TOML document and build the configuration."""
    unknown = set(data) - {"login_url", "site"}
    if unknown:
        raise SitesError(f"sites file: unknown key {sorted(unknown)[0]!r}")
    login_url = data.get("login_url", "")
    if not isinstance(login_url, str) or (login_url and not _LOGIN_URL.fullmatch(login_url)):
        raise SitesError("sites file: login_url must be an http(s) URL or a path")
    tables = data.get("site", [])
    if not isinstance(tables, list) or not tables:
        raise SitesError("sites file: add at least one [[site]] table")
    sites = tuple(_site(t, i + 1) for i, t in enumerate(tables))
    names = [site.name for site in sites]
    twice = next((name for name in names if names.count(name) > 1), None)
    if twice is not None:
        raise SitesError(f"sites file: two sites are named {twice!r}; each needs its own name")
    return SitesConfig(sites=sites, login_url=login_url)


def _site(table: object, number: int) -> Site:
    if not isinstance(table, dict):
        raise SitesError(f"site {number}: must be a [[site]] table")
    name = table.get("name", "")
    where = f"site {name!r}" if name else f"site {number}"
    if not isinstance(name, str):
        raise SitesError(f"{where}: name must be text")
    unknown = set(table) - _SITE_KEYS
    if unknown:
        raise SitesError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    domains = tuple(_domain(d, where) for d in _strings(table, "domains", where))
    if not domains:
        raise SitesError(f"{where}: domains must list at least one host")
    paths = tuple(_path(p, where) for p in _strings(table, "paths", where, ["/"]))
    if not paths:
        raise SitesError(f"{where}: paths must list at least one prefix")
    users = frozenset(_member(u, where, "users") for u in _strings(table, "users", where))
    groups = frozenset(_member(g, where, "groups") for g in _strings(table, "groups", where))
    if not users and not groups:
        raise SitesError(f'{where}: say who may enter: users = ["*"] admits every user')
    require_2fa = table.get("require_2fa", True)
    if not isinstance(require_2fa, bool):
        raise SitesError(f"{where}: require_2fa must be true or false")
    session_seconds = _seconds(table, "session_seconds", where)
    idle_seconds = _seconds(table, "idle_seconds", where)
    if not _SITE_NAME.fullmatch(name.strip()):
        raise SitesError(
            f"{where}: name must be letters, digits, '.', '_' or '-' (at most 64): the "
            "proxy sends it in /auth/verify?site="
        )
    return Site(
        name=name.strip(),
        domains=domains,
        paths=paths,
        users=users,
        groups=groups,
        require_2fa=require_2fa,
        session_seconds=session_seconds,
        idle_seconds=idle_seconds,
    )


def _strings(
    table: Mapping[str, Any], key: str, where: str, default: list[str] | None = None
) -> list[str]:
    value = table.get(key, [] if default is None else default)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SitesError(f"{where}: {key} must be a list of strings")
    return [v.strip() for v in value]


def _domain(value: str, where: str) -> str:
    host = value.lower()
    bare = host.removeprefix("*.")
    if not _HOST.fullmatch(bare) or "*" in bare:
        raise SitesError(f"{where}: {value!r} is not a host name or *.domain")
    return host


def _path(value: str, where: str) -> str:
    if normalise_path(value) != value or ";" in value:
        raise SitesError(f"{where}: path {value!r} must be a plain path starting with /")
    return value


def _member(value: str, where: str, key: str) -> str:
    name = value.lower()
    if name != EVERYONE and not _NAME.fullmatch(name):
        raise SitesError(f"{where}: {value!r} in {key} is not a valid name")
    if name == EVERYONE and key == "groups":
        raise SitesError(f'{where}: "*" belongs in users, not groups')
    return name


def _seconds(table: Mapping[str, Any], key: str, where: str) -> int | None:
    value = table.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < _MIN_SECONDS:
        raise SitesError(f"{where}: {key} must be a whole number of seconds, at least 60")
    return value
