"""The words of the security e-mails, in English and French, as plain text and HTML.

Texts live here and in ``mail_templates/`` (the layout); translations in the service's own
gettext catalog ``mail_locale/`` (domain ``mail``), so that mail rendered for a command-line
or SSH event needs nothing of the web layer. What a message may say is limited on purpose:
the user's name, the authenticator's name, times, the channel, address and browser of
the request, counts. Never a secret, a code, a recovery code, a password, a token, nor an
administrator's identity-check note (it may hold private details of the person).

Catalog upkeep (from the repository root):
``pybabel extract -F src/otpgate/service/mail_locale/babel.cfg --no-location --omit-header
-o src/otpgate/service/mail_locale/mail.pot src/otpgate/service``, then ``pybabel update -D
mail -d src/otpgate/service/mail_locale -i …/mail.pot -w 100`` and ``pybabel compile -D mail
-d src/otpgate/service/mail_locale``.
"""

from __future__ import annotations

import gettext as _gettext
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from otpgate.service._mail_texts import TEXTS, Content, Parts, format_time

__all__ = [
    "LOCALES",
    "MAILED_KINDS",
    "MAIL_LOCALE_DIR",
    "MAIL_TEMPLATE_DIR",
    "EventFacts",
    "RenderedMail",
    "check_mail",
    "event_mail",
    "invite_mail",
    "mail_locale",
    "security_page",
]

MAIL_LOCALE_DIR = Path(__file__).parent / "mail_locale"
MAIL_TEMPLATE_DIR = Path(__file__).parent / "mail_templates"
LOCALES = ("en", "fr")
# Event kinds that send a mail: audit kinds, and "login.new_device" (derived from a login).
MAILED_KINDS = frozenset(TEXTS)
_MAX_AGENT = 200


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class EventFacts:
    """What happened, as far as a mail may tell it (see the module docstring)."""

    kind: str  # an audit kind, or "login.new_device"
    username: str
    display_name: str
    at: datetime
    source: str
    client_addr: str = ""
    user_agent: str = ""
    by_admin: bool = False
    detail: Mapping[str, Any] | None = None


def mail_locale(locale: str | None) -> str:
    """The user's language if mail exists in it, else English."""
    return locale if locale in LOCALES else "en"


def security_page(base_url: str) -> str:
    """Absolute link to the security page, or "" when the public address is not configured."""
    return f"{base_url.rstrip('/')}/security" if base_url else ""


@cache
def _translations(locale: str) -> _gettext.NullTranslations:
    return _gettext.translation(
        "mail", localedir=MAIL_LOCALE_DIR, languages=[locale], fallback=True
    )


@cache
def _environment(locale: str) -> Environment:
    # One environment per language: installing translations is not thread-safe, and mail
    # is rendered in request threads.
    env = Environment(
        loader=FileSystemLoader(MAIL_TEMPLATE_DIR),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    env.install_gettext_translations(_translations(locale), newstyle=True)  # type: ignore[attr-defined]
    return env


def _render(content: Content, *, locale: str, name: str, issuer: str) -> RenderedMail:
    _ = _translations(locale).gettext
    values = {
        "locale": locale,
        "subject": content.subject,
        "greeting": _("Hello %(name)s,") % {"name": name},
        "paragraphs": content.paragraphs,
        "warning": content.warning,
        "link": content.link,
        "link_label": content.link_label,
        "details": content.details,
        "issuer": issuer,
    }
    env = _environment(locale)
    return RenderedMail(
        subject=f"[{issuer}] {content.subject}",
        text=env.get_template("mail.txt").render(values),
        html=env.get_template("mail.html").render(values),
    )


def _details(facts: EventFacts, locale: str) -> tuple[tuple[str, str], ...]:
    _ = _translations(locale).gettext
    rows = [(_("When"), format_time(facts.at))]
    if facts.by_admin:
        return tuple(rows)  # the administrator's address and browser are not the user's
    channels = {
        "web": _("web portal"),
        "api": _("application (API)"),
        "ssh": _("SSH"),
        "cli": _("command line"),
    }
    rows.append((_("Channel"), channels.get(facts.source, facts.source)))
    if facts.client_addr:
        rows.append((_("Address"), facts.client_addr))
    if facts.user_agent:
        rows.append((_("Browser or device"), facts.user_agent[:_MAX_AGENT]))
    return tuple(rows)


def event_mail(
    facts: EventFacts, *, locale: str, issuer: str, base_url: str = ""
) -> RenderedMail | None:
    """The mail telling a user about ``facts``, or None if this kind of event sends none."""
    locale = mail_locale(locale)
    build = TEXTS.get(facts.kind)
    if build is None:
        return None
    tr = _translations(locale)
    parts = Parts(
        gettext=tr.gettext,
        ngettext=tr.ngettext,
        username=facts.username,
        detail=facts.detail or {},
        details=_details(facts, locale),
        link=security_page(base_url),
        by_admin=facts.by_admin,
    )
    content = build(parts)
    return _render(content, locale=locale, name=facts.display_name or facts.username,
                   issuer=issuer)


def invite_mail(
    *, username: str, display_name: str, locale: str, issuer: str, base_url: str = ""
) -> RenderedMail:
    """An administrator's invitation to turn two-factor authentication on."""
    locale = mail_locale(locale)
    _ = _translations(locale).gettext
    link = security_page(base_url)
    how = (
        _("It takes two minutes: sign in, open your security page and choose “Enable "
          "two-factor authentication”.")
    )
    content = Content(
        _("Protect your account with two-factor authentication"),
        (
            _("An administrator of %(issuer)s invites you to turn on two-factor "
              "authentication for your account %(username)s: signing in will then also ask "
              "for a code from an app on your phone (for example Aegis, FreeOTP, Google "
              "Authenticator or Microsoft Authenticator).")
            % {"issuer": issuer, "username": username},
            how,
        ),
        link=link,
        link_label=_("Open my security page") if link else "",
    )
    return _render(content, locale=locale, name=display_name or username, issuer=issuer)


def check_mail(*, locale: str, issuer: str) -> RenderedMail:
    """The message of ``otpgate mail test``."""
    locale = mail_locale(locale)
    _ = _translations(locale).gettext
    content = Content(
        _("Test message"),
        (_("This is a test message from %(issuer)s: sending e-mail works.")
         % {"issuer": issuer},),
    )
    return _render(content, locale=locale, name=issuer, issuer=issuer)
