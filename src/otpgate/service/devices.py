"""Trusted devices: a browser that passed the second factor may skip it for a while.

The cookie holds a 256-bit random token; the table holds only its SHA-256. A device
expires after ``settings.trusted_device_days`` (Odoo: 90 days; ours: 30), can be revoked
one by one, and all are revoked when 2FA is turned off or reset. A device token keeps
working while a stranger has locked the account's code scope, but not from an (account,
address) pair that is itself locked.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from otpgate.security.tokens import hash_token, new_token
from otpgate.service import throttle
from otpgate.service._convert import device_view, has_active_credential
from otpgate.service._text import strip_controls
from otpgate.service._tx import check_id, load_active_user, unit_of_work
from otpgate.service.audit import AuditKind, record
from otpgate.service.errors import InvalidInput, NotEnrolled, NotFound
from otpgate.service.views import DeviceView
from otpgate.store import repositories as repo
from otpgate.store.models import TrustedDevice, User

if TYPE_CHECKING:
    from otpgate.service.context import Context, Origin

__all__ = ["find_valid_device", "list_devices", "revoke_device", "trust_new_device"]

MAX_DEVICE_NAME = 200
# Tokens we hand out are 43 characters; anything much longer is not one of ours.
_MAX_TOKEN = 200


def trust_new_device(
    session: Session, ctx: Context, origin: Origin, user: User, name: object
) -> str:
    """Remember this browser for the user; the plain token, for the cookie only."""
    if not isinstance(name, str):
        raise InvalidInput("The device name must be text.")
    if not has_active_credential(session, user.id):
        raise NotEnrolled()
    # Named by otpgate after the browser, not typed: cleaned rather than refused.
    label = " ".join(strip_controls(name).split())[:MAX_DEVICE_NAME]
    token = new_token()
    now = ctx.now_dt()
    device = repo.add_trusted_device(
        session,
        user_id=user.id,
        token_hash=hash_token(token),
        created_at=now,
        expires_at=now + timedelta(days=ctx.settings.trusted_device_days),
        name=label,
        client_addr=origin.client_addr[:64],
    )
    record(
        session,
        ctx,
        origin,
        AuditKind.DEVICE_TRUSTED,
        actor=user,
        subject=user,
        detail={"device_id": device.id, "name": label},
    )
    return token


def find_valid_device(
    session: Session, ctx: Context, origin: Origin, user: User, token: object
) -> TrustedDevice | None:
    """The user's unrevoked, unexpired device with this token, if the pair is not locked."""
    if not isinstance(token, str):
        raise InvalidInput("The device token must be text.")
    if not token or len(token) > _MAX_TOKEN:
        return None
    now = ctx.now_dt()
    pair = throttle.pair_scope(user.id, "code", origin.client_addr)
    if throttle.locked_until(session, pair, now) is not None:
        return None
    device = repo.find_trusted_device(session, user.id, hash_token(token))
    if device is None or device.revoked_at is not None or device.expires_at <= now:
        return None
    return device


def list_devices(ctx: Context, user_id: int) -> list[DeviceView]:
    """The user's trusted devices that still work, newest first."""
    with unit_of_work(ctx) as session:
        user = load_active_user(session, user_id)
        now = ctx.now_dt()
        return [
            device_view(d) for d in repo.trusted_devices_of(session, user.id) if d.expires_at > now
        ]


def revoke_device(ctx: Context, origin: Origin, user_id: int, device_id: int) -> None:
    """Stop trusting one of the user's devices; :class:`NotFound` if it is not theirs."""
    device_id = check_id(device_id, "device id")
    with unit_of_work(ctx) as session:
        user = load_active_user(session, user_id)
        if not repo.revoke_trusted_device(session, user.id, device_id, ctx.now_dt()):
            raise NotFound("No such trusted device.")
        record(
            session,
            ctx,
            origin,
            AuditKind.DEVICE_REVOKED,
            actor=user,
            subject=user,
            detail={"device_id": device_id},
        )
