"""A raw dump of the database holds no OTP secret, recovery code or device token in clear."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine

from db_support import dump_tables
from otpgate.otp.secrets import b32decode
from otpgate.service import enrolment, login
from otpgate.service.context import Context, Origin
from otpgate.service.views import UserView

from .twofa import enrol

MakeUser = Callable[..., UserView]


def _forms(secret: bytes, b32: str) -> list[bytes]:
    """The ways a secret could show up in a dump: raw, hex, base32, base64."""
    return [
        secret,
        secret.hex().encode(),
        secret.hex().upper().encode(),
        b32.encode(),
        b32.lower().encode(),
        base64.b64encode(secret),
        base64.urlsafe_b64encode(secret).rstrip(b"="),
    ]


def _raw_files(engine: Engine) -> bytes:
    """For SQLite, the bytes of the database file and its write-ahead log."""
    if engine.dialect.name != "sqlite":
        return b""
    path = Path(str(engine.url.database))
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


def test_dump_reveals_no_secret(
    ctx: Context, web: Origin, make_user: MakeUser, engine: Engine
) -> None:
    """Secrets (active and pending), recovery codes and device tokens never appear in clear."""
    user = make_user("alice")
    phone = enrol(ctx, web, user.id)
    pending = enrolment.begin_enrolment(ctx, web, user.id, step_up_at=ctx.now_dt())
    token = login.trust_device(ctx, web, user.id, "Laptop")
    login.verify_code(ctx, web, user.id, phone.code(ctx))

    text = repr(dump_tables(engine)).encode()
    raw = text + _raw_files(engine)
    assert b"alice" in raw  # the dump does see the data
    forbidden: list[bytes] = []
    for b32 in (phone.secret_b32, pending.secret_b32):
        forbidden += _forms(b32decode(b32), b32)
    for code in phone.recovery_codes:
        forbidden += [code.encode(), code.replace("-", "").encode()]
    forbidden.append(token.encode())
    leaks = [f for f in forbidden if f in raw]
    assert leaks == []
