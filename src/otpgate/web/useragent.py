"""A short, human name for a browser ("Firefox on Linux"), to label trusted devices."""

from __future__ import annotations

from otpgate.web.i18n import N_, gettext

__all__ = ["device_label", "device_name"]

_UNKNOWN = N_("Unknown browser")

# Order matters: Edge and Opera also say "Chrome", Chrome also says "Safari".
_BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chromium/", "Chromium"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
    ("curl/", "curl"),
)
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def device_name(user_agent: str) -> str:
    """E.g. "Chrome on Android"; "Unknown browser" when nothing is recognised."""
    browser = next((name for mark, name in _BROWSERS if mark in user_agent), "")
    system = next((name for mark, name in _SYSTEMS if mark in user_agent), "")
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or _UNKNOWN


def device_label(name: str) -> str:
    """A stored device name in the page's language ("Chrome on Linux" → "Chrome sous Linux")."""
    if name == _UNKNOWN:
        return gettext(_UNKNOWN)
    browser, on, system = name.partition(" on ")
    known_browsers = {b for _, b in _BROWSERS}
    known_systems = {s for _, s in _SYSTEMS}
    if on and browser in known_browsers and system in known_systems:
        return gettext("%(browser)s on %(system)s") % {"browser": browser, "system": system}
    return name
