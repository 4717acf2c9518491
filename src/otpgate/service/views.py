"""What use cases return to adapters: frozen values, never ORM objects."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

__all__ = [
    "ApiTokenView",
    "AuditView",
    "BypassIssued",
    "CredentialView",
    "DeviceView",
    "PasskeyView",
    "PasswordStep",
    "PendingEnrolment",
    "Policy",
    "SecondFactor",
    "UserSummary",
    "UserView",
]


@dataclass(frozen=True)
class UserView:
    id: int
    username: str
    display_name: str
    email: str
    is_admin: bool
    is_active: bool
    locale: str | None
    has_2fa: bool
    created_at: datetime


@dataclass(frozen=True)
class UserSummary(UserView):
    locked_until: datetime | None
    authenticators: int


@dataclass(frozen=True)
class CredentialView:
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


@dataclass(frozen=True)
class PasskeyView:
    """A passkey or security key as listed: no key material."""

    id: int
    name: str
    # "passkey" when it may be synced to other devices (backup-eligible), else "security key".
    kind: Literal["passkey", "security_key"]
    transports: tuple[str, ...]
    backup_eligible: bool
    backed_up: bool
    created_at: datetime
    last_used_at: datetime | None


@dataclass(frozen=True)
class DeviceView:
    id: int
    name: str
    client_addr: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime


@dataclass(frozen=True)
class AuditView:
    id: int
    at: datetime
    kind: str
    source: str
    actor_name: str
    subject_name: str
    client_addr: str
    user_agent: str
    detail: dict[str, Any]

    def to_json(self) -> str:
        """One JSON object on one line, for JSON-lines export."""
        return json.dumps(
            {
                "id": self.id,
                "at": self.at.isoformat(),
                "kind": self.kind,
                "source": self.source,
                "actor": self.actor_name,
                "subject": self.subject_name,
                "client_addr": self.client_addr,
                "user_agent": self.user_agent,
                "detail": self.detail,
            },
            ensure_ascii=False,
            sort_keys=True,
        )


@dataclass(frozen=True)
class Policy:
    require_all: bool
    require_admins: bool
    issuer: str
    # A discoverable passkey with user verification signs in without the password.
    passwordless: bool = False


@dataclass(frozen=True)
class PendingEnrolment:
    """Shown once to the user while enrolling; holds the secret, so never logged."""

    credential_id: int
    kind: Literal["totp", "hotp"]
    secret_b32: str
    secret_grouped: str
    uri: str
    qr_svg: str
    issuer: str
    account: str
    expires_at: datetime

    def __repr__(self) -> str:
        return f"PendingEnrolment(credential_id={self.credential_id}, kind={self.kind!r})"


@dataclass(frozen=True)
class PasswordStep:
    user: UserView
    needs_second_factor: bool
    must_enrol: bool


@dataclass(frozen=True)
class SecondFactor:
    method: Literal["totp", "hotp", "recovery", "device", "bypass", "passkey"]
    credential_id: int | None
    drift_seconds: float | None
    recovery_codes_left: int


@dataclass(frozen=True)
class ApiTokenView:
    """An API token as listed to admins; the token itself is never stored or shown again."""

    id: int
    name: str
    scopes: frozenset[str]
    created_by: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class BypassIssued:
    """A one-time bypass code, shown once to the admin who issued it; never logged."""

    username: str
    code: str
    expires_at: datetime

    def __repr__(self) -> str:
        return f"BypassIssued(username={self.username!r}, expires_at={self.expires_at!r})"
