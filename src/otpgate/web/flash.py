"""One-shot notices carried to the next page in the session ("2FA is now off")."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from otpgate.web.i18n import N_, gettext, ngettext, use_locale

if TYPE_CHECKING:
    from otpgate.web.deps import Page

__all__ = ["flash", "take_flash"]

_MESSAGES = {
    "logged_out": N_("You are logged out."),
    "setup_done": N_("The administrator account is ready. Log in with it."),
    "setup_enrol": N_(
        "The administrator account is ready. Administrators must use two-factor "
        "authentication: set up your authenticator app now."
    ),
    "twofa_enabled": N_("Two-factor authentication is on."),
    "twofa_disabled": N_("Two-factor authentication is off."),
    "authenticator_added": N_("The authenticator was added."),
    "authenticator_removed": N_("The authenticator was removed."),
    "device_revoked": N_("The device is no longer trusted."),
    "language_saved": N_("Your language setting was saved."),
    "password_confirmed": N_("Password confirmed."),
    "password_changed": N_("Your password was changed. Your other sessions were logged out."),
    "password_set": N_("The password was set. The account's open sessions were ended."),
    "user_created": N_("The account was created."),
    "twofa_reset": N_("Two-factor authentication was reset for this account."),
    "user_unlocked": N_("The account was unlocked."),
    "user_deactivated": N_("The account was deactivated."),
    "user_reactivated": N_("The account can log in again."),
    "admin_granted": N_("The account is now an administrator."),
    "admin_revoked": N_("The account is no longer an administrator. Its sessions were ended."),
    "policy_saved": N_("The policy was saved."),
    "authenticator_renamed": N_("The authenticator was renamed."),
    "passkey_added": N_("The passkey was added."),
    "passkey_renamed": N_("The passkey was renamed."),
    "passkey_removed": N_("The passkey was removed."),
    "hotp_resynced": N_("Your authenticator's counter was resynchronised."),
    "bypass_used": N_(
        "You logged in with a one-time code from an administrator. Set up a new "
        "authenticator now; you can then remove the lost one on the Security page."
    ),
}

_DRIFT = {
    "clock_behind": N_(
        "Your authenticator's clock seems about %(n)d seconds behind. Set your phone's time "
        "automatically, or codes will soon be refused."
    ),
    "clock_ahead": N_(
        "Your authenticator's clock seems about %(n)d seconds ahead. Set your phone's time "
        "automatically, or codes will soon be refused."
    ),
}


def flash(page: Page, key: str, **params: Any) -> None:
    """Show the notice ``key`` on the next page this session renders."""
    page.session.update(flash={"key": key, "params": params})


def take_flash(page: Page) -> str | None:
    """The pending notice in the page's language, removed from the session; or None."""
    view = page.session.current()
    item = view.data.get("flash") if view is not None else None
    if not isinstance(item, dict):
        return None
    page.session.update(flash=None)
    key, params = item.get("key"), item.get("params") or {}
    with use_locale(page.locale):
        if key == "recovery_used":
            left = int(params.get("left", 0))
            return ngettext(
                "You used a recovery code. %(n)d recovery code is left.",
                "You used a recovery code. %(n)d recovery codes are left.",
                left,
            ) % {"n": left}
        if key == "recovery_low":
            left = int(params.get("left", 0))
            return ngettext(
                "Only %(n)d recovery code is left. Generate new ones on the Security page.",
                "Only %(n)d recovery codes are left. Generate new ones on the Security page.",
                left,
            ) % {"n": left}
        if key == "invited":
            return _invited(int(params.get("n", 0)), int(params.get("skipped", 0)))
        if key in _DRIFT:
            return gettext(_DRIFT[str(key)]) % {"n": int(params.get("n", 0))}
        message = _MESSAGES.get(str(key))
        return gettext(message) if message else None


def _invited(n: int, skipped: int) -> str:
    text = ngettext(
        "%(n)d invitation to turn on two-factor authentication will be e-mailed.",
        "%(n)d invitations to turn on two-factor authentication will be e-mailed.",
        n,
    ) % {"n": n}
    if skipped:
        text += " " + ngettext(
            "%(n)d account was left out (no e-mail address, two-factor authentication "
            "already on, or invited in the last 24 hours).",
            "%(n)d accounts were left out (no e-mail address, two-factor authentication "
            "already on, or invited in the last 24 hours).",
            skipped,
        ) % {"n": skipped}
    return text
