"""The rule of one protected site, and the rule a request must satisfy when the spellings of
its path select several sites (see :mod:`otpgate.site_paths`)."""

from __future__ import annotations

from dataclasses import dataclass

from otpgate.site_paths import Spelling

__all__ = ["EVERYONE", "AccessRule", "Site", "host_matches"]

EVERYONE = "*"


def host_matches(pattern: str, host: str) -> int:
    """2 for an exact match, 1 for a ``*.domain`` pattern the host is under, else 0."""
    if pattern.startswith("*."):
        return 1 if host.endswith(pattern[1:]) else 0
    return 2 if host == pattern else 0


def _prefix_length(prefix: str, spelling: Spelling) -> int | None:
    # "/admin" and "/admin/" both cover "/admin" and "/admin/…", never "/administrator";
    # a folded spelling matches the prefix whatever its case.
    stem = prefix.rstrip("/")
    if spelling.folded:
        stem = stem.lower()
    path = spelling.path
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

    def covers(self, host: str) -> int:
        """2 when a domain is this host, 1 when a wildcard covers it, else 0."""
        return max((host_matches(d, host) for d in self.domains), default=0)

    def rank(self, host: str, spelling: Spelling) -> tuple[int, int] | None:
        """How well the site matches (longer path, then exact host), or None."""
        on_host = self.covers(host)
        if not on_host:
            return None
        lengths = [n for p in self.paths if (n := _prefix_length(p, spelling)) is not None]
        return (max(lengths), on_host) if lengths else None


def _strictest(values: list[int | None]) -> int | None:
    limits = [v for v in values if v is not None]
    return min(limits) if limits else None


@dataclass(frozen=True)
class AccessRule:
    """What a request must satisfy: every site that one spelling of its path selects.

    Usually one site. When spellings disagree (``/ADMIN`` is the root site's as written
    and the ``/admin`` site's to a case-blind upstream) each has its say: a user every
    one admits, 2FA if any wants it, the shortest session and inactivity limits.
    """

    sites: tuple[Site, ...]

    @property
    def name(self) -> str:
        return "+".join(site.name for site in self.sites)

    @property
    def require_2fa(self) -> bool:
        return any(site.require_2fa for site in self.sites)

    @property
    def session_seconds(self) -> int | None:
        return _strictest([site.session_seconds for site in self.sites])

    @property
    def idle_seconds(self) -> int | None:
        return _strictest([site.idle_seconds for site in self.sites])

    def admits(self, username: str, groups: frozenset[str]) -> bool:
        """True when every site of the rule lets this user in."""
        return all(site.admits(username, groups) for site in self.sites)
