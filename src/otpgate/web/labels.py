"""Words people read for the audit event kinds (the kinds themselves stay in the log)."""

from __future__ import annotations

from otpgate.web.i18n import N_, gettext

__all__ = ["event_label"]

_EVENTS = {
    "login.password_ok": N_("Password accepted"),
    "login.password_failed": N_("Wrong password"),
    "login.ok": N_("Logged in"),
    "login.code_failed": N_("Wrong code"),
    "login.code_replayed": N_("Code already used (refused, not counted)"),
    "login.locked": N_("Locked after failures"),
    "2fa.enabled": N_("Two-factor authentication turned on"),
    "2fa.disabled": N_("Two-factor authentication turned off"),
    "2fa.reset": N_("Two-factor authentication reset by an administrator"),
    "authenticator.added": N_("Authenticator added"),
    "authenticator.removed": N_("Authenticator removed"),
    "authenticator.renamed": N_("Authenticator renamed"),
    "passkey.added": N_("Passkey added"),
    "passkey.removed": N_("Passkey removed"),
    "passkey.renamed": N_("Passkey renamed"),
    "passkey.cloned": N_("Passkey refused: it may have been copied"),
    "login.passkey_failed": N_("Passkey refused"),
    "hotp.resynced": N_("Authenticator counter resynchronised"),
    "bypass.issued": N_("One-time bypass code issued by an administrator"),
    "bypass.used": N_("One-time bypass code used"),
    "recovery.used": N_("Recovery code used"),
    "recovery.regenerated": N_("New recovery codes"),
    "device.trusted": N_("Device trusted"),
    "device.revoked": N_("Trusted device revoked"),
    "device.used": N_("Trusted device used"),
    "user.created": N_("Account created"),
    "user.deactivated": N_("Account deactivated"),
    "user.reactivated": N_("Account enabled again"),
    "user.admin_granted": N_("Administrator rights given"),
    "user.admin_revoked": N_("Administrator rights taken away"),
    "user.password_changed": N_("Password changed"),
    "user.unlocked": N_("Account unlocked"),
    "policy.changed": N_("Policy changed"),
    "keys.rotated": N_("Encryption keys rotated"),
    "api_token.created": N_("API token created"),
    "setup.completed": N_("First-run setup completed"),
    "database.backed_up": N_("Database backed up"),
    "database.restored": N_("Database restored from a backup"),
    "audit.purged": N_("Old audit events deleted"),
}


def event_label(kind: str) -> str:
    """The translated label of an audit kind; an unknown kind is shown as is."""
    label = _EVENTS.get(kind)
    return gettext(label) if label else kind
