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

A request goes to the site whose domain matches its host and whose path prefix is the
longest; at equal length an exact domain beats a wildcard, then the first in the file
wins. Ports are ignored. A site must name who may enter (``users`` or ``groups``), so a
forgotten list closes the site instead of opening it.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from otpgate.config import ConfigError

__all__ = [
    "EVERYONE",
    "Site",
    "SitesConfig",
    "SitesError",
    "host_matches",
    "load_sites",
    "normalise_host",
    "normalise_path",
    "parse_sites",
]

EVERYONE = "*"
_LABEL = r"[a-z0-9]([a-z0-9-]*[a-z0-9])?"
_HOST = re.compile(rf"(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*")
_HOST_PORT = re.compile(r"(?P<host>[A-Za-z0-9.-]+)(:(?P<port>[0-9]{1,5}))?")
_LOGIN_URL = re.compile(r"(https?://[!-~]+|/[!-~]*)")
_NAME = re.compile(r"[a-z0-9._@-]{1,150}")
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


def normalise_path(raw: object) -> str | None:
    """The path of a request target as a proxy routes it, or None if it is not sane.

    Query and fragment are cut, percent-escapes decoded, repeated slashes merged and
    ``.``/``..`` segments resolved (as nginx does before choosing a location), so
    ``/public/../admin`` is judged as ``/admin``. A path that climbs above the root,
    holds a control character or a backslash is refused.
    """
    if not isinstance(raw, str) or not raw.startswith("/") or len(raw) > 8192:
        return None
    try:
        path = unquote(raw.split("?", 1)[0].split("#", 1)[0], errors="strict")
    except UnicodeDecodeError:
        return None
    if any(ord(c) < 0x20 or c in "\x7f\\" for c in path):
        return None
    parts: list[str] = []
    for segment in path.split("/")[1:]:
        if segment in ("", "."):
            continue
        if segment == "..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(segment)
    trailing = "/" if path.endswith(("/", "/.", "/..")) and parts else ""
    return "/" + "/".join(parts) + trailing


def host_matches(pattern: str, host: str) -> int:
    """2 for an exact match, 1 for a ``*.domain`` pattern the host is under, else 0."""
    if pattern.startswith("*."):
        return 1 if host.endswith(pattern[1:]) else 0
    return 2 if host == pattern else 0


def _prefix_length(prefix: str, path: str) -> int | None:
    # "/admin" and "/admin/" both cover "/admin" and "/admin/…", never "/administrator".
    stem = prefix.rstrip("/")
    if not stem or path == stem or path.startswith(stem + "/"):
        return len(stem)
    return None


@dataclass(frozen=True)
class Site:
    """One protected site and the rule of who may enter it."""

    name: str
    domains: tuple[str, ...]
    paths: tuple[str, ...] = ("/",)
    users: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    require_2fa: bool = True
    session_seconds: int | None = None
    idle_seconds: int | None = None

    def admits(self, username: str, groups: frozenset[str]) -> bool:
        """True when this user (with these groups) may enter."""
        return EVERYONE in self.users or username in self.users or bool(self.groups & groups)

    def rank(self, host: str, path: str) -> tuple[int, int] | None:
        """How well the site matches (longer path, then exact host), or None."""
        on_host = max((host_matches(d, host) for d in self.domains), default=0)
        if not on_host:
            return None
        lengths = [n for p in self.paths if (n := _prefix_length(p, path)) is not None]
        return (max(lengths), on_host) if lengths else None


@dataclass(frozen=True)
class SitesConfig:
    """Every protected site, and where their users log in."""

    sites: tuple[Site, ...] = ()
    login_url: str = ""

    def site_for(self, host: str, path: str) -> Site | None:
        """The site a request for ``host`` + normalised ``path`` belongs to, or None."""
        best: tuple[tuple[int, int], int, Site] | None = None
        for index, site in enumerate(self.sites):
            rank = site.rank(host, path)
            if rank is not None and (best is None or (rank, -index) > (best[0], best[1])):
                best = (rank, -index, site)
        return best[2] if best is not None else None

    def covers_host(self, host: str) -> bool:
        """True when some site lists this host (exactly or under a wildcard)."""
        return any(host_matches(d, host) for s in self.sites for d in s.domains)


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
    return SitesConfig(sites=sites, login_url=login_url)


def _site(table: object, number: int) -> Site:
    if not isinstance(table, dict):
        raise SitesError(f"site {number}: must be a [[site]] table")
    name = table.get("name", f"site {number}")
    where = f"site {name!r}" if "name" in table else f"site {number}"
    if not isinstance(name, str) or not name.strip():
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
    return Site(
        name=name.strip(),
        domains=domains,
        paths=paths,
        users=users,
        groups=groups,
        require_2fa=require_2fa,
        session_seconds=_seconds(table, "session_seconds", where),
        idle_seconds=_seconds(table, "idle_seconds", where),
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
    if normalise_path(value) != value:
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
