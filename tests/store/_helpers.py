"""Values and small builders shared by the store tests."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from otpgate.store import repositories as repo
from otpgate.store.models import OtpCredential, User

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


def new_user(s: Session, name: str = "alice") -> User:
    """Insert a user with placeholder values."""
    return repo.add_user(s, username=name, password_hash="hash", created_at=NOW)


def new_credential(
    s: Session, user_id: int, status: str = "active", **extra: object
) -> OtpCredential:
    """Insert a TOTP credential with a placeholder sealed secret."""
    fields: dict[str, object] = {
        "user_id": user_id,
        "kind": "totp",
        "status": status,
        "secret_sealed": b"sealed",
        "key_id": "k1",
        "created_at": NOW,
    }
    fields.update(extra)
    return repo.add_credential(s, **fields)  # type: ignore[arg-type]
