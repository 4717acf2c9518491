"""Words people read for what the audit log stores as codes: event kinds, where an event
came from, and the keys and values of its details.

The codes stay in the log (and admins may see them in small print); pages show these
translated labels instead, so no ``login.ok`` or ``must_enrol: False`` reaches a reader.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from otpgate.web.i18n import N_, gettext

__all__ = [
    "DETAIL_LABELS",
    "EVENT_LABELS",
    "detail_items",
    "event_label",
    "event_options",
    "source_label",
]

EVENT_LABELS = {
    "login.password_ok": N_("Password accepted"),
    "login.password_failed": N_("Wrong password"),
    "login.ok": N_("Logged in"),
    "login.code_failed": N_("Wrong code"),
    "login.code_replayed": N_("Code already used (refused, not counted)"),
    "login.locked": N_("Locked after failures"),
    "2fa.enabled": N_("Two-factor authentication turned on"),
    "2fa.disabled": N_("Two-factor authentication turned off"),
    "2fa.reset": N_("Two-factor authentication reset by an administrator"),
    "2fa.invited": N_("Invited by e-mail to turn on two-factor authentication"),
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
    "api_token.revoked": N_("API token revoked"),
    "setup.completed": N_("First-run setup completed"),
    "database.backed_up": N_("Database backed up"),
    "database.restored": N_("Database restored from a backup"),
    "audit.purged": N_("Old audit events deleted"),
    "group.added": N_("Added to a group"),
    "group.removed": N_("Removed from a group"),
    "mail.failed": N_("Security e-mail not sent yet (will retry)"),
    "mail.dead": N_("Security e-mail given up"),
}

_SOURCES = {
    "web": N_("Web portal"),
    "api": N_("API"),
    "cli": N_("Command line"),
    "ssh": N_("SSH"),
}

DETAIL_LABELS = {
    "aaguid": N_("Authenticator model (AAGUID)"),
    "attempt": N_("Attempt"),
    "before": N_("Older than"),
    "by_admin": N_("By an administrator"),
    "cancelled": N_("Earlier codes cancelled"),
    "count": N_("Number of codes"),
    "credential": N_("Authenticator"),
    "credential_id": N_("Authenticator number"),
    "credentials": N_("Authenticators removed"),
    "deleted": N_("Events deleted"),
    "device_id": N_("Device number"),
    "devices": N_("Trusted devices removed"),
    "disallow_reuse": N_("Used time steps"),
    "error": N_("Error"),
    "expires_at": N_("Expires"),
    "failures": N_("Failures in a row"),
    "file": N_("File"),
    "forced": N_("Forced"),
    "format": N_("Format"),
    "from_keys": N_("Previous keys"),
    "group": N_("Group"),
    "is_admin": N_("Administrator"),
    "issuer": N_("Issuer"),
    "kind": N_("Type"),
    "last": N_("Last second factor"),
    "left": N_("Recovery codes left"),
    "mail_id": N_("E-mail number"),
    "method": N_("Second factor"),
    "must_enrol": N_("Must set up two-factor authentication"),
    "name": N_("Name"),
    "new": N_("New value"),
    "note": N_("Identity check"),
    "old": N_("Previous value"),
    "passkey_id": N_("Passkey number"),
    "passkeys": N_("Passkeys removed"),
    "passwordless": N_("Without a password"),
    "period": N_("Code lifetime (seconds)"),
    "presented_count": N_("Signature counter presented"),
    "proof": N_("Authenticator used as proof"),
    "purpose": N_("While"),
    "rate_limit": N_("Rate limit"),
    "reason": N_("Reason"),
    "recovery_codes": N_("Recovery codes removed"),
    "require_admins": N_("Required for administrators"),
    "require_all": N_("Required for everyone"),
    "retention_days": N_("Kept for (days)"),
    "retry_at": N_("Next try"),
    "revision": N_("Database revision"),
    "rotated": N_("Secrets re-encrypted"),
    "scope": N_("Counted per"),
    "scopes": N_("Permissions"),
    "scratch_codes": N_("Scratch codes"),
    "second_factor": N_("Second factor needed"),
    "sessions": N_("Sessions ended"),
    "short_secret": N_("Short secret"),
    "skipped": N_("Counter steps skipped"),
    "step": N_("Step"),
    "stored_count": N_("Signature counter stored"),
    "throttles": N_("Failure counters cleared"),
    "to_key": N_("New key"),
    "token_id": N_("Token number"),
    "until": N_("Locked until"),
    "via": N_("How"),
    "window_size": N_("Window size"),
}

_DETAIL_VALUES = {
    "account": N_("account"),
    "address": N_("account and address"),
    "bypass": N_("one-time bypass code"),
    "change_password": N_("changing the password"),
    "cloned": N_("copied key (signature counter went back)"),
    "device": N_("trusted device"),
    "disable_2fa": N_("turning two-factor authentication off"),
    "expired": N_("expired"),
    "hotp": N_("counter-based code (HOTP)"),
    "import": N_("import"),
    "invalid": N_("could not be verified"),
    "login": N_("signing in"),
    "not_allowed": N_("not allowed"),
    "passkey": N_("passkey"),
    "password": N_("password"),
    "passwordless": N_("signing in with a passkey alone"),
    "recovery": N_("recovery code"),
    "remove": N_("removing a passkey"),
    "remove_authenticator": N_("removing an authenticator"),
    "remove_last": N_("last authenticator removed"),
    "remove_last_passkey": N_("last passkey removed"),
    "remove_passkey": N_("removing a passkey"),
    "resync": N_("resynchronising"),
    "scratch": N_("scratch code"),
    "second_step": N_("second step of the login"),
    "security_key": N_("security key"),
    "step_up": N_("confirming the password"),
    "totp": N_("time-based code (TOTP)"),
    "unknown": N_("unknown passkey"),
    "unknown_user": N_("unknown username"),
    "wrong_password": N_("wrong password"),
}


# Details that the log keeps as ISO timestamps.
_TIMES = frozenset({"until", "expires_at", "retry_at", "before"})


def event_label(kind: str) -> str:
    """The translated label of an audit kind; an unknown kind is shown as is."""
    label = EVENT_LABELS.get(kind)
    return gettext(label) if label else kind


def event_options(kinds: list[str]) -> list[tuple[str, str]]:
    """``(kind, label)`` pairs sorted by label, for a list people pick from."""
    return sorted(((k, event_label(k)) for k in kinds), key=lambda pair: pair[1].casefold())


def source_label(source: str) -> str:
    """Where an event came from (portal, API, command line, SSH), in words."""
    label = _SOURCES.get(source)
    return gettext(label) if label else source


def detail_items(
    detail: dict[str, object], when: Callable[[datetime | None], str]
) -> list[tuple[str, str, bool]]:
    """``(label, value, as_typed)`` for each detail, in label order, values in words.

    ``as_typed`` marks values shown as someone typed them (a name, a note), which pages
    do not translate. ``when`` formats the timestamps the log keeps as ISO text.
    """
    items = [
        (_key_label(key), _value_text(key, value, when), _as_typed(key, value))
        for key, value in detail.items()
    ]
    return sorted(items)


def _as_typed(key: str, value: object) -> bool:
    if isinstance(value, list | tuple):
        return any(_as_typed(key, v) for v in value)
    return (isinstance(value, str) and value not in _DETAIL_VALUES
            and key not in _TIMES)


def _key_label(key: str) -> str:
    label = DETAIL_LABELS.get(key)
    return gettext(label) if label else key.replace("_", " ")


def _value_text(key: str, value: object, when: Callable[[datetime | None], str]) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, dict):
        return "; ".join(
            f"{_key_label(str(k))}: {_value_text(str(k), v, when)}"
            for k, v in sorted(value.items())
        )
    if isinstance(value, list | tuple):
        return ", ".join(_value_text(key, v, when) for v in value) or "—"
    if isinstance(value, str):
        return _string_text(key, value, when)
    return str(value)


def _string_text(key: str, value: str, when: Callable[[datetime | None], str]) -> str:
    if key in _TIMES:
        try:
            return when(datetime.fromisoformat(value))
        except ValueError:
            return value
    words = _DETAIL_VALUES.get(value)
    return gettext(words) if words else value
