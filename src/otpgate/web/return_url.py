"""Where to send the browser after logging in: never to a site we do not protect.

A return URL (``?rd=`` or ``?next=``) is accepted only as

- a local path of the portal (``/…``, not ``//…``), or
- an absolute ``http``/``https`` URL whose host is a domain of a protected site (exact or
  under a ``*.`` wildcard) or the cookie domain or one of its subdomains.

Everything else is refused, and so is anything a browser might read differently from
us: characters outside printable ASCII (spaces, tabs and newlines, which browsers strip;
non-ASCII host names, which they fold), backslashes (``\\`` counts as ``/``), user info
(``user@host``), percent-escapes or other odd characters in the host, and URLs longer
than 2000 characters.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from otpgate.sites import SitesConfig, normalise_host

__all__ = ["MAX_RETURN_URL", "validate_return_url"]

MAX_RETURN_URL = 2000


def _printable_ascii(text: str) -> bool:
    return all(0x21 <= ord(c) <= 0x7E for c in text) and "\\" not in text


def _allowed_host(host: str, sites: SitesConfig, cookie_domain: str) -> bool:
    if sites.covers_host(host):
        return True
    return bool(cookie_domain) and (host == cookie_domain or host.endswith("." + cookie_domain))


def validate_return_url(value: object, sites: SitesConfig, cookie_domain: str = "") -> str | None:
    """``value`` unchanged when it is a safe place to return to, else None."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_RETURN_URL:
        return None
    if not _printable_ascii(value):
        return None
    if value.startswith("/"):
        return None if value.startswith("//") else value
    return value if _absolute_ok(value, sites, cookie_domain) else None


def _absolute_ok(value: str, sites: SitesConfig, cookie_domain: str) -> bool:
    if not value.lower().startswith(("http://", "https://")):
        return False
    try:
        authority = urlsplit(value).netloc
    except ValueError:
        return False
    # The authority is everything between "//" and the next "/", "?" or "#".
    if not authority or "@" in authority:
        return False
    host = normalise_host(authority)
    return host is not None and _allowed_host(host, sites, cookie_domain)
