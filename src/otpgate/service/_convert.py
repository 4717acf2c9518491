"""ORM rows → the frozen views adapters receive. Nothing here reads a secret."""

from __future__ import annotations

from typing import Any, Literal, cast

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from otpgate.service.views import (
    AuditView,
    CredentialView,
    DeviceView,
    PasskeyView,
    UserView,
)
from otpgate.store.models import (
    AuditEvent,
    OtpCredential,
    TrustedDevice,
    User,
    WebAuthnCredential,
)

__all__ = [
    "audit_view",
    "credential_view",
    "device_view",
    "has_active_credential",
    "passkey_view",
    "user_view",
]


def has_active_credential(session: Session, user_id: int) -> bool:
    """True when the user has a confirmed authenticator or a passkey (2FA is on)."""
    otp = exists().where(OtpCredential.user_id == user_id, OtpCredential.status == "active")
    passkey = exists().where(WebAuthnCredential.user_id == user_id)
    return bool(session.scalar(select(otp | passkey)))


def user_view(session: Session, user: User) -> UserView:
    return UserView(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        email=user.email,
        is_admin=user.is_admin,
        is_active=user.is_active,
        locale=user.locale,
        has_2fa=has_active_credential(session, user.id),
        created_at=user.created_at,
    )


def credential_view(cred: OtpCredential) -> CredentialView:
    return CredentialView(
        id=cred.id,
        kind=cast(Literal["totp", "hotp"], cred.kind),
        name=cred.name,
        algorithm=cred.algorithm,
        digits=cred.digits,
        period=cred.period,
        created_at=cred.created_at,
        confirmed_at=cred.confirmed_at,
        last_used_at=cred.last_used_at,
        drift_seconds=cred.drift_seconds,
    )


def passkey_view(key: WebAuthnCredential) -> PasskeyView:
    return PasskeyView(
        id=key.id,
        name=key.name,
        kind="passkey" if key.backup_eligible else "security_key",
        transports=tuple(t for t in key.transports.split(",") if t),
        backup_eligible=key.backup_eligible,
        backed_up=key.backed_up,
        created_at=key.created_at,
        last_used_at=key.last_used_at,
    )


def device_view(device: TrustedDevice) -> DeviceView:
    return DeviceView(
        id=device.id,
        name=device.name,
        client_addr=device.client_addr,
        created_at=device.created_at,
        last_used_at=device.last_used_at,
        expires_at=device.expires_at,
    )


def audit_view(event: AuditEvent) -> AuditView:
    detail: dict[str, Any] = dict(event.detail or {})
    return AuditView(
        id=event.id,
        at=event.at,
        kind=event.kind,
        source=event.source,
        actor_name=event.actor_name,
        subject_name=event.subject_name,
        client_addr=event.client_addr,
        user_agent=event.user_agent,
        detail=detail,
    )
