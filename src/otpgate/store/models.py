"""Typed tables. Data only: no business rule lives here.

Times are timezone-aware UTC datetimes in Python. PostgreSQL stores them as
``timestamp with time zone``; SQLite, which has no such type, stores naive UTC text and
:class:`UtcDateTime` puts the zone back on the way out.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "ApiToken",
    "AppSetting",
    "AuditEvent",
    "Base",
    "BypassCode",
    "OtpCredential",
    "OutboxMail",
    "RecoveryCode",
    "Throttle",
    "TrustedDevice",
    "User",
    "UserGroup",
    "WebAuthnCredential",
    "WebAuthnUser",
    "WebSession",
]


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend; naive values are refused, not guessed."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JSON()}  # noqa: RUF012


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Stored case-folded so "Alice" and "alice" are one account.
    username: Mapped[str] = mapped_column(String(150), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(320), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    locale: Mapped[str | None] = mapped_column(String(16), default=None)
    created_at: Mapped[datetime]
    password_changed_at: Mapped[datetime]


class UserGroup(Base):
    """A user's membership of a named group (who may enter which protected site)."""

    __tablename__ = "user_groups"
    __table_args__ = (Index("ix_user_groups_name", "name"),)

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    added_at: Mapped[datetime]


class OtpCredential(Base):
    """One authenticator (TOTP or HOTP) of a user; several per user, each named."""

    __tablename__ = "otp_credentials"
    __table_args__ = (Index("ix_otp_credentials_user_status", "user_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))  # "totp" | "hotp"
    status: Mapped[str] = mapped_column(String(8))  # "pending" | "active"
    name: Mapped[str] = mapped_column(String(100), default="")
    # AES-GCM sealed secret; key_id names the key of the ring that sealed it.
    secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    key_id: Mapped[str] = mapped_column(String(32))
    algorithm: Mapped[str] = mapped_column(String(8), default="SHA1")
    digits: Mapped[int] = mapped_column(Integer, default=6)
    period: Mapped[int] = mapped_column(Integer, default=30)
    # TOTP: the last accepted time step; HOTP: the last accepted counter. -1 = none yet.
    # Advanced only by a conditional UPDATE (... WHERE last_step < :step): replay guard.
    last_step: Mapped[int] = mapped_column(BigInteger, default=-1)
    # Moving average of (matched step - current step) * period, in seconds.
    drift_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None] = mapped_column(default=None)  # pending only
    confirmed_at: Mapped[datetime | None] = mapped_column(default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)


class WebAuthnUser(Base):
    """The random WebAuthn user handle of a user (never the username: it is in passkeys)."""

    __tablename__ = "webauthn_users"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    user_handle: Mapped[bytes] = mapped_column(LargeBinary(64), unique=True)
    created_at: Mapped[datetime]


class WebAuthnCredential(Base):
    """A passkey or security key of a user (WebAuthn); several per user, each named."""

    __tablename__ = "webauthn_credentials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The authenticator's credential id (at most 1023 bytes, WebAuthn level 3).
    credential_id: Mapped[bytes] = mapped_column(LargeBinary(1023), unique=True)
    # The COSE public key, sealed like OTP secrets and bound to the owner: a key written
    # onto another user's row, or swapped in by someone with database access, never opens.
    public_key_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    key_id: Mapped[str] = mapped_column(String(32))
    # Highest signature counter seen; advanced by a conditional UPDATE only.
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    transports: Mapped[str] = mapped_column(String(200), default="")  # comma-separated
    aaguid: Mapped[str] = mapped_column(String(36), default="")
    backup_eligible: Mapped[bool] = mapped_column(Boolean, default=False)
    backed_up: Mapped[bool] = mapped_column(Boolean, default=False)
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)


class RecoveryCode(Base):
    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(128), unique=True)
    # The secret key of the code's keyed hash; None for an unkeyed one (SHA-256 stored by
    # versions before 0005, argon2 for imported scratch codes).
    key_id: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class BypassCode(Base):
    """A one-time code an admin issued for a user who lost their phone; stored hashed."""

    __tablename__ = "bypass_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(128), unique=True)
    note: Mapped[str] = mapped_column(Text)  # the identity check the admin made
    issued_by: Mapped[str] = mapped_column(String(150), default="")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class TrustedDevice(Base):
    __tablename__ = "trusted_devices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    client_addr: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class WebSession(Base):
    """Server-side session; the cookie holds a random id, the table only its hash."""

    __tablename__ = "sessions"

    id_hash: Mapped[str] = mapped_column(String(128), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True, default=None
    )
    # "anonymous" | "password" (half logged in) | "enrol" (must enrol first) | "full"
    level: Mapped[str] = mapped_column(String(16), default="anonymous")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    client_addr: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(400), default="")
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    step_up_at: Mapped[datetime | None] = mapped_column(default=None)


class Throttle(Base):
    """Failure counter for one scope, e.g. ``user:42`` or ``user-addr:42|203.0.113.7``."""

    __tablename__ = "throttles"

    scope: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_failure_at: Mapped[datetime]
    last_failure_at: Mapped[datetime]
    locked_until: Mapped[datetime | None] = mapped_column(default=None)


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_subject_at", "subject_id", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16), default="")  # web | api | cli | ssh
    # Ids may outlive their users, so names are copied too; no foreign keys on purpose.
    actor_id: Mapped[int | None] = mapped_column(Integer, default=None)
    actor_name: Mapped[str] = mapped_column(String(150), default="")
    subject_id: Mapped[int | None] = mapped_column(Integer, default=None)
    subject_name: Mapped[str] = mapped_column(String(150), default="")
    client_addr: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(400), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    scopes: Mapped[str] = mapped_column(String(200))  # space-separated: verify enrol admin
    created_by: Mapped[str] = mapped_column(String(150), default="")
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class AppSetting(Base):
    """Settings an admin changes at run time (policy, issuer, first-admin setup token)."""

    __tablename__ = "app_settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class OutboxMail(Base):
    """One e-mail to send, written in the transaction of the event it tells about.

    A sender claims due rows (``status`` queued → sending, with its ``claim`` token), sends
    them outside any transaction, then marks each sent, or failed with the time of the
    next attempt, or dead. The rendered text is stored: it never holds a secret or a code.
    No foreign key: like audit rows, a message is self-contained.
    """

    __tablename__ = "mail_outbox"
    __table_args__ = (Index("ix_mail_outbox_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(Integer, default=None, index=True)
    recipient: Mapped[str] = mapped_column(String(320))
    kind: Mapped[str] = mapped_column(String(64))  # the audit kind it tells about, or "invite"
    locale: Mapped[str] = mapped_column(String(16), default="en")
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(8), default="queued")  # queued|sending|sent|dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(String(300), default="")
    claim: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None] = mapped_column(default=None)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
