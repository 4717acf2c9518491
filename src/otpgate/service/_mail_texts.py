"""The text of each security e-mail, one builder per event kind (see notify_messages).

Builders receive :class:`Parts`: the translation functions of the user's language and
the pieces every message shares. They may use only what ``Parts`` holds, which carries
no secret, code or note by construction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = ["LOW_RECOVERY_CODES", "TEXTS", "Content", "Parts", "format_time"]

# Below this many recovery codes left, the recovery mail warns.
LOW_RECOVERY_CODES = 3


def format_time(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True)
class Content:
    subject: str
    paragraphs: tuple[str, ...]
    warning: str = ""
    link: str = ""
    link_label: str = ""
    details: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Parts:
    gettext: Callable[[str], str]
    ngettext: Callable[[str, str, int], str]
    username: str
    detail: Mapping[str, Any]
    details: tuple[tuple[str, str], ...]
    link: str
    by_admin: bool

    @property
    def who(self) -> dict[str, str]:
        return {"username": self.username, "name": str(self.detail.get("name", ""))}

    def content(
        self,
        subject: str,
        *paragraphs: str,
        warning: str = "",
        link: bool = True,
        say_admin: bool = True,
    ) -> Content:
        """A message with the shared closing lines, the details and (if asked) the link."""
        _ = self.gettext
        admin = self.by_admin and say_admin
        extra = (_("This change was made by an administrator."),) if admin else ()
        closing = _("If this was not you, contact your administrator at once.")
        shown = self.link if link else ""
        return Content(
            subject,
            (*paragraphs, *extra, closing),
            warning=warning,
            link=shown,
            link_label=_("Open my security page") if shown else "",
            details=self.details,
        )


def _enabled(p: Parts) -> Content:
    _ = p.gettext
    return p.content(
        _("Two-factor authentication is on"),
        _("Two-factor authentication was turned on for your account %(username)s. "
          "Signing in now asks for a code from your authenticator app.") % p.who,
        link=False,
    )


def _disabled(p: Parts) -> Content:
    _ = p.gettext
    return p.content(
        _("Two-factor authentication is off"),
        _("Two-factor authentication was turned off for your account %(username)s. "
          "Signing in now asks only for your password.") % p.who,
    )


def _reset(p: Parts) -> Content:
    _ = p.gettext
    return p.content(
        _("Your two-factor authentication was reset"),
        _("An administrator reset two-factor authentication for your account "
          "%(username)s: your authenticators, recovery codes and trusted devices "
          "were removed.") % p.who,
        _("Sign in with your password and set up an authenticator again."),
        say_admin=False,
    )


def _added(p: Parts) -> Content:
    _ = p.gettext
    return p.content(
        _("An authenticator was added to your account"),
        _("The authenticator “%(name)s” was added to your account %(username)s: "
          "its codes are now accepted when you sign in.") % p.who,
    )


def _removed(p: Parts) -> Content:
    _ = p.gettext
    return p.content(
        _("An authenticator was removed from your account"),
        _("The authenticator “%(name)s” was removed from your account %(username)s: "
          "its codes are no longer accepted.") % p.who,
    )


def _passkey_added(p: Parts) -> Content:
    _ = p.gettext
    return p.content(
        _("A passkey was added to your account"),
        _("The passkey or security key “%(name)s” was added to your account "
          "%(username)s: it can now be used when you sign in.") % p.who,
    )


def _passkey_removed(p: Parts) -> Content:
    _ = p.gettext
    return p.content(
        _("A passkey was removed from your account"),
        _("The passkey or security key “%(name)s” was removed from your account "
          "%(username)s: it is no longer accepted.") % p.who,
    )


def _passkey_cloned(p: Parts) -> Content:
    _ = p.gettext
    return p.content(
        _("A copy of your passkey may be in use"),
        _("A sign-in to your account %(username)s with the passkey or security key "
          "“%(name)s” was refused: its signature counter went back, which happens when "
          "the key was copied.") % p.who,
        _("Remove this key on your security page and add a new one."),
    )


def _recovery_used(p: Parts) -> Content:
    _, ngettext = p.gettext, p.ngettext
    left = int(p.detail.get("left", 0))
    warning = ""
    if left < LOW_RECOVERY_CODES:
        warning = _("Fewer than 3 recovery codes are left: generate new ones on your "
                    "security page before you run out.")
    return p.content(
        _("A recovery code was used to sign in"),
        _("A recovery code was used to sign in to your account %(username)s. "
          "Each code works only once.") % p.who,
        ngettext("You have %(count)d recovery code left.",
                 "You have %(count)d recovery codes left.", left) % {"count": left},
        warning=warning,
    )


def _new_device(p: Parts) -> Content:
    _ = p.gettext
    return p.content(
        _("New sign-in to your account"),
        _("Someone signed in to your account %(username)s from a device or a "
          "place not seen recently.") % p.who,
        _("If this was you, there is nothing to do. If not, change your password "
          "now."),
        link=False,
    )


def _locked(p: Parts) -> Content:
    _ = p.gettext
    try:
        until = format_time(datetime.fromisoformat(str(p.detail.get("until", ""))))
    except ValueError:
        until = "?"
    if p.detail.get("step") == "password":
        why = _("Someone may be guessing your password; the block slows them down.")
    else:
        why = _("The password was right but the codes were wrong: someone who knows "
                "your password may be trying to sign in. Change your password.")
    return p.content(
        _("Sign-in to your account is blocked for a while"),
        _("After several failed attempts, signing in to your account %(username)s "
          "is blocked until %(until)s.") % {"username": p.username, "until": until},
        why,
        link=False,
    )


def _bypass_issued(p: Parts) -> Content:
    _ = p.gettext
    return p.content(
        _("A one-time bypass code was issued for your account"),
        _("An administrator issued a one-time code that lets you sign in to your "
          "account %(username)s once without your authenticator.") % p.who,
        link=False,
        say_admin=False,
    )


def _bypass_used(p: Parts) -> Content:
    _ = p.gettext
    return p.content(
        _("A one-time bypass code was used to sign in"),
        _("The one-time bypass code of your account %(username)s was used to "
          "sign in. Set up a new authenticator now.") % p.who,
    )


# Audit kinds that send a mail (plus "login.new_device", derived from a login).
TEXTS: dict[str, Callable[[Parts], Content]] = {
    "2fa.enabled": _enabled,
    "2fa.disabled": _disabled,
    "2fa.reset": _reset,
    "authenticator.added": _added,
    "authenticator.removed": _removed,
    "passkey.added": _passkey_added,
    "passkey.removed": _passkey_removed,
    "passkey.cloned": _passkey_cloned,
    "recovery.used": _recovery_used,
    "login.new_device": _new_device,
    "login.locked": _locked,
    "bypass.issued": _bypass_issued,
    "bypass.used": _bypass_used,
}
