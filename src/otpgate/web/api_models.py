"""Request and response bodies of the JSON API, as pydantic models.

They describe shapes only (types, lengths) so that FastAPI can parse and document them;
every rule about codes, passwords and users is the service's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from otpgate.service.views import (
    AuditView,
    CredentialView,
    PasskeyView,
    PendingEnrolment,
    SecondFactor,
)

__all__ = [
    "ROW_ID_MAX",
    "AuditEvent",
    "AuditPage",
    "Authenticator",
    "ConfirmRequest",
    "ConfirmResult",
    "EnrolmentRequest",
    "EnrolmentStarted",
    "ErrorBody",
    "ResetRequest",
    "ResetResult",
    "TwoFactorStatus",
    "VerifyRequest",
    "VerifyResult",
]

# Generous upper bounds: they only keep absurd payloads away from the service, which
# applies the real rules (exact digit count, password strength, username format).
_USERNAME = Field(min_length=1, max_length=150, examples=["alice"])
_CODE_MAX = 64
#: The largest row id: ids are 32-bit integers on PostgreSQL, so a larger one names nothing.
ROW_ID_MAX = 2**31 - 1


class _Strict(BaseModel):
    # Unknown fields are refused so a typo ("pasword") is a 400, not silently ignored;
    # strict types so a code sent as a JSON number (leading zeros lost) is refused too.
    model_config = ConfigDict(extra="forbid", strict=True)


class ErrorBody(BaseModel):
    """Every error of the API has this shape; optional fields appear where they apply."""

    error: str = Field(description="Stable machine-readable code, e.g. `code_rejected`.")
    message: str = Field(description="One line, in English, safe to show to the user.")
    reason: str | None = Field(
        default=None, description="For `code_rejected`: `wrong`, `replayed` or `malformed`."
    )
    until: datetime | None = Field(
        default=None, description="For `locked`: when attempts are accepted again (UTC)."
    )


class VerifyRequest(_Strict):
    """A one-time code (or a recovery code), optionally with the password."""

    username: str = _USERNAME
    code: str | None = Field(
        default=None, max_length=_CODE_MAX, description="The code from the authenticator app.",
        examples=["123456"],
    )
    recovery_code: str | None = Field(
        default=None, max_length=_CODE_MAX,
        description="A recovery code instead of `code` (consumed once).",
        examples=["abcd-efgh-ijkl"],
    )
    password: str | None = Field(
        default=None, max_length=4096,
        description="When given, the password is checked first (same throttle as the portal).",
    )

    @model_validator(mode="after")
    def _one_factor(self) -> Self:
        if (self.code is None) == (self.recovery_code is None):
            raise ValueError("give exactly one of code and recovery_code")
        return self


class VerifyResult(BaseModel):
    ok: Literal[True] = True
    username: str
    method: Literal["totp", "hotp", "recovery", "device", "bypass", "passkey"] = Field(
        description="What was accepted."
    )
    credential_id: int | None = Field(description="The authenticator that matched, if any.")
    drift_seconds: float | None = Field(
        description="How far the authenticator's clock is off (TOTP), in seconds."
    )
    recovery_codes_left: int

    @classmethod
    def of(cls, username: str, factor: SecondFactor) -> Self:
        """The answer for an accepted second factor of ``username``."""
        return cls(
            username=username,
            method=factor.method,
            credential_id=factor.credential_id,
            drift_seconds=factor.drift_seconds,
            recovery_codes_left=factor.recovery_codes_left,
        )


class EnrolmentRequest(_Strict):
    kind: Literal["totp", "hotp"] = "totp"
    name: str = Field(
        default="", max_length=100, description="A name for the authenticator, e.g. 'My phone'."
    )


class EnrolmentStarted(BaseModel):
    """What the user needs to add the authenticator; holds the secret, so never cache it."""

    credential_id: int
    kind: Literal["totp", "hotp"]
    otpauth_uri: str
    qr_svg: str = Field(description="An inline `<svg>` of the otpauth URI.")
    secret: str = Field(description="The secret in base32, without padding.")
    secret_grouped: str = Field(description="The same secret in groups of 4 for typing.")
    issuer: str
    account: str
    expires_at: datetime = Field(description="Confirm before this time, or start again.")

    @classmethod
    def of(cls, pending: PendingEnrolment) -> EnrolmentStarted:
        return cls(
            credential_id=pending.credential_id,
            kind=pending.kind,
            otpauth_uri=pending.uri,
            qr_svg=pending.qr_svg,
            secret=pending.secret_b32,
            secret_grouped=pending.secret_grouped,
            issuer=pending.issuer,
            account=pending.account,
            expires_at=pending.expires_at,
        )


class ConfirmRequest(_Strict):
    code: str = Field(max_length=_CODE_MAX, examples=["123456"])
    name: str = Field(default="", max_length=100, examples=["My phone"])


class ConfirmResult(BaseModel):
    enabled: Literal[True] = True
    credential_id: int
    recovery_codes: list[str] = Field(
        description="New recovery codes, shown once; empty unless this is the first "
        "authenticator of the user."
    )


class Authenticator(BaseModel):
    id: int
    kind: Literal["totp", "hotp"]
    name: str
    algorithm: str
    digits: int
    period: int
    created_at: datetime
    confirmed_at: datetime | None
    last_used_at: datetime | None
    drift_seconds: float

    # The fields are those of the service's CredentialView, read by name.
    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def of(cls, view: CredentialView) -> Authenticator:
        return cls.model_validate(view)


class Passkey(BaseModel):
    id: int
    name: str
    kind: Literal["passkey", "security_key"] = Field(
        description="`passkey` when it may be synced to other devices (backup-eligible)."
    )
    transports: list[str]
    backup_eligible: bool
    backed_up: bool = Field(description="True when the passkey is synced (backed up).")
    created_at: datetime
    last_used_at: datetime | None

    # The fields are those of the service's PasskeyView, read by name.
    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def of(cls, view: PasskeyView) -> Passkey:
        return cls.model_validate(view)


class TwoFactorStatus(BaseModel):
    username: str
    is_active: bool
    enabled: bool = Field(
        description="True when at least one authenticator is confirmed or a passkey is registered."
    )
    authenticators: list[Authenticator]
    passkeys: list[Passkey] = Field(description="Passkeys and security keys (WebAuthn).")
    recovery_codes_left: int
    locked_until: datetime | None = Field(
        description="Set while code checks of this user are refused after failures."
    )


class ResetRequest(_Strict):
    note: str = Field(
        max_length=2000,
        description="The identity check that was done (required, at least 10 characters).",
        examples=["Called back on the number in the HR file; employee id checked."],
    )


class ResetResult(BaseModel):
    reset: Literal[True] = True
    username: str


class AuditEvent(BaseModel):
    id: int
    at: datetime
    kind: str
    source: str
    actor: str
    subject: str
    client_addr: str
    user_agent: str
    detail: dict[str, object]

    @classmethod
    def of(cls, view: AuditView) -> AuditEvent:
        return cls(
            id=view.id,
            at=view.at,
            kind=view.kind,
            source=view.source,
            actor=view.actor_name,
            subject=view.subject_name,
            client_addr=view.client_addr,
            user_agent=view.user_agent,
            detail=dict(view.detail),
        )


class AuditPage(BaseModel):
    events: list[AuditEvent] = Field(description="Newest first.")
    limit: int
    offset: int
