"""Passkey rows for service tests, written as registration leaves them."""

from __future__ import annotations

from otpgate.service._passkey_check import key_context
from otpgate.service.context import Context
from otpgate.store import repositories as repo
from otpgate.store.db import transaction

__all__ = ["stored_passkey"]


def stored_passkey(ctx: Context, user_id: int, name: str = "Laptop", count: int = 5) -> int:
    """A passkey of the user (public key sealed for its owner); its row id."""
    credential_id = b"cred-%d-%s" % (user_id, name.encode())
    key_id, sealed = ctx.keyring.seal(b"cose-key", context=key_context(user_id, credential_id))
    with transaction(ctx.session_factory) as s:
        row = repo.add_passkey(
            s, user_id=user_id, credential_id=credential_id, public_key_sealed=sealed,
            key_id=key_id, sign_count=count, transports="internal", aaguid="", name=name,
            backup_eligible=False, backed_up=False, created_at=ctx.now_dt(),
        )
        return row.id
