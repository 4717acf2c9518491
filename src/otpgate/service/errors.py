"""Errors of the service layer. Adapters map each to an HTTP status or exit code.

Messages are one line, in English, and safe to show to the person concerned: they never
contain a secret, a code or a password.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

__all__ = [
    "AccountDisabled",
    "AlreadyEnrolled",
    "AppIgnoredSettings",
    "AuthenticationFailed",
    "CodeFromRemovedAuthenticator",
    "CodeRejected",
    "CodeReplayed",
    "Conflict",
    "EnrolmentExpired",
    "InvalidInput",
    "KeyUnavailable",
    "LastAuthenticator",
    "Locked",
    "MailDeliveryFailed",
    "MailNotConfigured",
    "NotEnrolled",
    "NotFound",
    "NotPermitted",
    "PasskeyReason",
    "PasskeyRejected",
    "RejectReason",
    "ServiceError",
    "StepUpRequired",
]


class ServiceError(Exception):
    """Root of the service's errors; never raised itself."""


class InvalidInput(ServiceError, ValueError):
    """A value that can never be right (wrong type, too long, bad format)."""


class NotFound(ServiceError):
    pass


class Conflict(ServiceError):
    pass


class AuthenticationFailed(ServiceError):
    """Wrong password or unknown user: one message for both, so names cannot be probed."""

    def __init__(self, message: str = "Invalid username or password.") -> None:
        super().__init__(message)


class AccountDisabled(ServiceError):
    def __init__(self, message: str = "This account is disabled.") -> None:
        super().__init__(message)


class RejectReason(StrEnum):
    WRONG = "wrong"
    REPLAYED = "replayed"
    MALFORMED = "malformed"


class CodeRejected(ServiceError):
    def __init__(self, reason: RejectReason, message: str | None = None) -> None:
        self.reason = reason
        super().__init__(message or _REJECT_MESSAGES[reason])


class CodeReplayed(CodeRejected):
    """A code that was the user's own and is used up: a TOTP/HOTP step at or below the last
    accepted one, or a recovery or scratch code already used. Reason ``REPLAYED``.

    Carries what the ``login.code_replayed`` audit row needs, because that row is written
    after the check's transaction rolled back (see
    :func:`otpgate.service.audit.replays_audited`).
    """

    def __init__(
        self,
        user_id: int,
        username: str,
        detail: dict[str, object],
        message: str | None = None,
    ) -> None:
        self.user_id = user_id
        self.username = username
        self.detail = detail
        super().__init__(RejectReason.REPLAYED, message)


class CodeFromRemovedAuthenticator(CodeRejected):
    """Removing an authenticator was "proven" with its own code: proof needs another one."""

    def __init__(self) -> None:
        super().__init__(
            RejectReason.WRONG, "Enter a code from another authenticator than this one."
        )


_REJECT_MESSAGES = {
    RejectReason.WRONG: "The code is not valid.",
    RejectReason.REPLAYED: "This code was already used; wait for the next one.",
    RejectReason.MALFORMED: "Enter the digits shown by your authenticator app.",
}


class PasskeyReason(StrEnum):
    INVALID = "invalid"  # bad signature, origin, RP ID, challenge or format
    UNKNOWN = "unknown"  # no such passkey (never registered, or removed)
    CLONED = "cloned"  # the signature counter went back: a copy of the key is in use
    EXPIRED = "expired"  # no challenge of this session, or too old: start again
    NOT_ALLOWED = "not_allowed"  # passwordless sign-in is off, or passkeys are not set up


class PasskeyRejected(ServiceError):
    """A passkey ceremony that proves nothing; ``reason`` says why (adapters word it)."""

    def __init__(self, reason: PasskeyReason, message: str | None = None) -> None:
        self.reason = reason
        super().__init__(message or _PASSKEY_MESSAGES[reason])


_PASSKEY_MESSAGES = {
    PasskeyReason.INVALID: "The passkey's answer could not be verified.",
    PasskeyReason.UNKNOWN: "This passkey is not registered for this account.",
    PasskeyReason.CLONED: "This passkey was refused: its signature counter went back, "
    "so a copy of it may be in use.",
    PasskeyReason.EXPIRED: "The passkey request has expired; start again.",
    PasskeyReason.NOT_ALLOWED: "Passkeys cannot be used for this here.",
}


class Locked(ServiceError):
    """Too many failures: refused until ``until``, even with a correct code."""

    def __init__(self, until: datetime, message: str | None = None) -> None:
        self.until = until
        super().__init__(
            message or f"Too many failed attempts; try again after {until:%H:%M:%S} UTC."
        )


class StepUpRequired(ServiceError):
    def __init__(self, message: str = "Confirm your password to continue.") -> None:
        super().__init__(message)


class NotEnrolled(ServiceError):
    def __init__(self, message: str = "Two-factor authentication is not enabled.") -> None:
        super().__init__(message)


class AlreadyEnrolled(Conflict):
    def __init__(self, message: str = "This authenticator is already confirmed.") -> None:
        super().__init__(message)


class EnrolmentExpired(ServiceError):
    def __init__(self, message: str = "This enrolment has expired; start again.") -> None:
        super().__init__(message)


class NotPermitted(ServiceError):
    def __init__(self, message: str = "You are not allowed to do this.") -> None:
        super().__init__(message)


class KeyUnavailable(ServiceError):
    """A stored secret cannot be opened with the configured keys (key removed or data damaged)."""

    def __init__(
        self, message: str = "A stored secret cannot be opened with the configured keys."
    ) -> None:
        super().__init__(message)


class AppIgnoredSettings(ServiceError):
    """The confirming code is the standard SHA1/6 digits/30 s code of the same secret: the
    authenticator app ignored the non-default parameters the operator configured."""

    def __init__(self, wanted: str, message: str | None = None) -> None:
        self.wanted = wanted
        super().__init__(
            message
            or f"Your authenticator app ignored the settings ({wanted}) and shows standard "
            "codes. Use an app reported to honour them, such as Aegis, 2FAS or FreeOTP, "
            "and scan the QR code again."
        )


class LastAuthenticator(ServiceError):
    """Removing the only authenticator turns 2FA off: it needs the password and a code."""

    def __init__(
        self,
        message: str = "This is your last authenticator: removing it turns two-factor "
        "authentication off. Confirm with your password and a current code.",
    ) -> None:
        super().__init__(message)


class MailNotConfigured(ServiceError):
    """An e-mail was asked for, but no SMTP server is configured."""

    def __init__(
        self, message: str = "Sending e-mail is not configured (set OTPGATE_SMTP_HOST)."
    ) -> None:
        super().__init__(message)


class MailDeliveryFailed(ServiceError):
    """The SMTP server could not be reached or refused the message."""
