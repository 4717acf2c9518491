"""Key rotation: re-seal every OTP secret and passkey public key under the key ring's
primary key.

Rotation runs in batches, one transaction each, so logins go on meanwhile (each batch
holds its rows only briefly) and an interrupted rotation resumes where it stopped: the
next run picks up whatever is still under an older key. Once it reports nothing left,
older keys can be removed from the configuration, except that recovery codes are stored
as keyed hashes that no rotation can redo (the codes are not known): those of an older
key stop working when it is removed (:func:`recovery_codes_under_older_keys`).

Each row is re-sealed with a conditional UPDATE on its old ciphertext, so a row deleted
or changed meanwhile is left alone instead of being overwritten; its counters
(``last_step``, drift) are never written by the rotation.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from otpgate.security.errors import DecryptionFailed
from otpgate.service._passkey_check import key_context
from otpgate.service._tx import unit_of_work
from otpgate.service.audit import AuditKind, record
from otpgate.service.errors import InvalidInput, KeyUnavailable
from otpgate.service.verification import secret_context
from otpgate.store import repositories as repo
from otpgate.store.models import OtpCredential, RecoveryCode, WebAuthnCredential

if TYPE_CHECKING:
    from otpgate.security.secretbox import KeyRing
    from otpgate.service.context import Context, Origin

__all__ = ["MAX_BATCH_SIZE", "recovery_codes_under_older_keys", "rotate_keys"]

MAX_BATCH_SIZE = 10_000
_Row = TypeVar("_Row", OtpCredential, WebAuthnCredential)


def rotate_keys(ctx: Context, origin: Origin, *, batch_size: int = 200) -> int:
    """Re-seal every credential not under the primary key; how many were re-sealed.

    Raises :class:`KeyUnavailable` if a secret cannot be opened (its key was removed from
    the ring, or the row is damaged); batches already done stay done.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int):
        raise InvalidInput("The batch size must be an integer.")
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise InvalidInput(f"The batch size must be 1 to {MAX_BATCH_SIZE}.")
    primary = ctx.keyring.primary_id
    from_keys: Counter[str] = Counter()
    _rotate_rows(ctx, repo.credentials_not_under, _reseal, batch_size, from_keys)
    _rotate_rows(ctx, repo.passkeys_not_under, _reseal, batch_size, from_keys)
    rotated = sum(from_keys.values())
    with unit_of_work(ctx) as session:
        record(
            session,
            ctx,
            origin,
            AuditKind.KEYS_ROTATED,
            detail={"rotated": rotated, "to_key": primary, "from_keys": dict(from_keys)},
        )
    return rotated


def recovery_codes_under_older_keys(ctx: Context) -> int:
    """How many unused recovery codes are hashed under a key other than the primary: they
    keep working while that key is configured, and stop when it is removed."""
    query = select(func.count()).where(
        RecoveryCode.used_at.is_(None),
        RecoveryCode.key_id.is_not(None),
        RecoveryCode.key_id != ctx.keyring.primary_id,
    )
    with unit_of_work(ctx) as session:
        return session.scalar(query) or 0


def _rotate_rows(
    ctx: Context,
    fetch: Callable[[Session, str, int], Sequence[_Row]],
    reseal: Callable[[Session, KeyRing, OtpCredential | WebAuthnCredential], bool],
    batch_size: int,
    from_keys: Counter[str],
) -> None:
    """Re-seal the rows ``fetch`` finds under older keys, one batch per transaction."""
    while True:
        with unit_of_work(ctx) as session:
            batch = fetch(session, ctx.keyring.primary_id, batch_size)
            for row in batch:
                if reseal(session, ctx.keyring, row):
                    from_keys[row.key_id] += 1
        if len(batch) < batch_size:
            return


def _reseal(
    session: Session, keyring: KeyRing, row: OtpCredential | WebAuthnCredential
) -> bool:
    """Re-seal one OTP secret or passkey public key under the primary key; False if the
    row changed meanwhile."""
    model: type[OtpCredential | WebAuthnCredential]
    if isinstance(row, OtpCredential):
        model, column, what = OtpCredential, "secret_sealed", f"secret of authenticator {row.id}"
        context = secret_context(row.user_id)
    else:
        model, column, what = WebAuthnCredential, "public_key_sealed", f"passkey {row.id}"
        context = key_context(row.user_id, row.credential_id)
    before: bytes = getattr(row, column)
    try:
        value = keyring.open(row.key_id, before, context=context)
    except DecryptionFailed:
        raise KeyUnavailable(
            f"The {what} cannot be opened: key {row.key_id!r} "
            "is not configured or the row is damaged. Add the key back and rotate again."
        ) from None
    key_id, sealed = keyring.seal(value, context=context)
    statement = (
        update(model)
        .where(model.id == row.id, model.key_id == row.key_id, getattr(model, column) == before)
        .values({"key_id": key_id, column: sealed})
        .execution_options(synchronize_session=False)
    )
    result = session.execute(statement)
    return bool(result.rowcount)  # type: ignore[attr-defined]
