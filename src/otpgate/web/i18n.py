"""Translations: gettext catalogs (managed with Babel) and the locale of each request.

The locale is chosen per request and kept in a context variable, so the Jinja
environment (shared by all requests) and Python code both translate with it.
"""

from __future__ import annotations

import gettext as _gettext
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path

__all__ = [
    "DEFAULT_LOCALE",
    "LOCALES",
    "N_",
    "current_locale",
    "gettext",
    "negotiate",
    "ngettext",
    "use_locale",
]

LOCALE_DIR = Path(__file__).parent / "locale"
DEFAULT_LOCALE = "en"
# Shown in the language switch, in their own language.
LOCALES: dict[str, str] = {"en": "English", "fr": "Français"}

_current: ContextVar[str] = ContextVar("otpgate_locale", default=DEFAULT_LOCALE)


def N_(message: str) -> str:  # noqa: N802 - the usual gettext marker name
    """Mark a string for extraction; it is translated later, where it is shown."""
    return message


@cache
def _translations(locale: str) -> _gettext.NullTranslations:
    return _gettext.translation(
        "messages", localedir=LOCALE_DIR, languages=[locale], fallback=True
    )


def current_locale() -> str:
    return _current.get()


@contextmanager
def use_locale(locale: str) -> Iterator[None]:
    """Translate with ``locale`` inside the block."""
    token = _current.set(locale if locale in LOCALES else DEFAULT_LOCALE)
    try:
        yield
    finally:
        _current.reset(token)


def gettext(message: str) -> str:
    return _translations(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _translations(_current.get()).ngettext(singular, plural, n)


def negotiate(*preferred: str | None, accept_language: str = "") -> str:
    """The first supported locale among ``preferred``, else the best of Accept-Language."""
    for value in preferred:
        if value in LOCALES:
            return value
    for tag in _accept_language(accept_language):
        base = tag.split("-", 1)[0]
        if base in LOCALES:
            return base
    return DEFAULT_LOCALE


def _accept_language(header: str) -> list[str]:
    """Language tags of an Accept-Language header, best first (q=0 dropped)."""
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header[:500].split(",")):
        pieces = part.strip().split(";")
        tag = pieces[0].strip().lower()
        quality = 1.0
        for param in pieces[1:]:
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and quality > 0:
            weighted.append((-quality, index, tag))
    return [tag for _, _, tag in sorted(weighted)]
