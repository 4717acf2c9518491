"""Key rotation: every secret re-sealed under the primary key, old keys then removable."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from db_support import Dump
from otpgate.otp.totp import Totp
from otpgate.security.secretbox import KeyRing
from otpgate.service import audit, keys
from otpgate.service._code_check import check_code
from otpgate.service.context import Context, Origin
from otpgate.service.errors import InvalidInput, KeyUnavailable
from otpgate.service.verification import secret_context
from otpgate.service.views import SecondFactor, UserView
from otpgate.store import repositories as repo
from otpgate.store.db import transaction
from otpgate.store.models import OtpCredential, User

MakeUser = Callable[..., UserView]
# The context under the old key, and (user id, credential id, secret number) of each row.
World = tuple[Context, list[tuple[int, int, int]]]
OLD = ("old", bytes([7]) * 32)
NEW = ("new", bytes([9]) * 32)


def _with_ring(ctx: Context, *ring: tuple[str, bytes]) -> Context:
    return dataclasses.replace(ctx, keyring=KeyRing(list(ring)))


def _secret(user_id: int, n: int) -> bytes:
    return bytes([user_id % 256, n]) * 10


def _enrol(ctx: Context, user_id: int, n: int, *, status: str = "active") -> int:
    """Store a credential whose secret is sealed with ctx's primary key; its id."""
    key_id, sealed = ctx.keyring.seal(_secret(user_id, n), context=secret_context(user_id))
    with transaction(ctx.session_factory) as s:
        cred = repo.add_credential(
            s,
            user_id=user_id,
            kind="totp",
            status=status,
            secret_sealed=sealed,
            key_id=key_id,
            name=f"phone {n}",
            created_at=ctx.now_dt(),
            last_step=100 + n,
            drift_seconds=-15.0,
        )
        return cred.id


def _verify(ctx: Context, origin: Origin, user_id: int, code: str) -> SecondFactor | Any:
    with transaction(ctx.session_factory) as s:
        user = s.get(User, user_id)
        assert user is not None
        return check_code(s, ctx, origin, user, code)


@pytest.fixture
def old_world(ctx: Context, make_user: MakeUser) -> World:
    """Three users with five credentials (one pending) sealed under the old key."""
    old_ctx = _with_ring(ctx, OLD)
    creds = []
    for name, count in (("ann", 2), ("ben", 2), ("cat", 1)):
        user = make_user(name)
        for n in range(count):
            status = "pending" if (name, n) == ("ben", 1) else "active"
            creds.append((user.id, _enrol(old_ctx, user.id, n, status=status), n))
    return old_ctx, creds


def _key_ids(ctx: Context) -> list[str]:
    with transaction(ctx.session_factory) as s:
        return list(s.scalars(select(OtpCredential.key_id).order_by(OtpCredential.id)))


def test_rotation_reseals_everything_under_the_new_key(
    old_world: World, cli: Origin, dump: Callable[[], Dump]
) -> None:
    """After rotation in batches every row names the new key; counters are untouched."""
    old_ctx, _ = old_world
    before = dump()
    rotated = keys.rotate_keys(_with_ring(old_ctx, NEW, OLD), cli, batch_size=2)
    assert rotated == 5
    assert _key_ids(old_ctx) == ["new"] * 5
    after = dump()
    old_rows = {row[0]: row for row in before["otp_credentials"]}
    columns = [c.name for c in OtpCredential.__table__.columns]
    for row in after["otp_credentials"]:
        was = dict(zip(columns, old_rows[row[0]], strict=True))
        now = dict(zip(columns, row, strict=True))
        assert now["secret_sealed"] != was["secret_sealed"]
        for column in ("last_step", "drift_seconds", "status", "name", "user_id"):
            assert now[column] == was[column]
    assert "old" not in {str(v) for row in after["otp_credentials"] for v in row}
    [event] = audit.query_audit(old_ctx, kind="keys.rotated")
    assert event.detail == {"rotated": 5, "to_key": "new", "from_keys": {"old": 5}}
    assert event.source == "cli"


def test_old_key_is_removable_after_rotation(
    old_world: World, web: Origin, cli: Origin
) -> None:
    """With only the new key configured, every secret opens and current codes verify."""
    old_ctx, creds = old_world
    keys.rotate_keys(_with_ring(old_ctx, NEW, OLD), cli)
    new_only = _with_ring(old_ctx, NEW)
    with transaction(new_only.session_factory) as s:
        for user_id, cred_id, n in creds:
            cred = s.get(OtpCredential, cred_id)
            assert cred is not None
            context = secret_context(user_id)
            assert new_only.keyring.open(cred.key_id, cred.secret_sealed, context=context) == (
                _secret(user_id, n)
            )
    # Each user's first authenticator (all active) accepts its current code.
    for user_id, cred_id, n in creds:
        if n != 0:
            continue
        code = Totp(_secret(user_id, n)).generate_at(new_only.clock.now())
        result = _verify(new_only, web, user_id, code)
        assert isinstance(result, SecondFactor), result
        assert result.credential_id == cred_id


def test_second_rotation_has_nothing_to_do(
    old_world: World, cli: Origin
) -> None:
    """Rotating again under the same primary re-seals nothing (and says so in the audit)."""
    old_ctx, _ = old_world
    both = _with_ring(old_ctx, NEW, OLD)
    assert keys.rotate_keys(both, cli, batch_size=5) == 5  # exactly one full batch
    assert keys.rotate_keys(both, cli) == 0
    events = audit.query_audit(old_ctx, kind="keys.rotated")
    assert [e.detail["rotated"] for e in events] == [0, 5]


def test_rotation_with_a_missing_key_changes_nothing(
    old_world: World, cli: Origin, dump: Callable[[], Dump]
) -> None:
    """If the old key was removed too early, rotation stops with KeyUnavailable, no change."""
    old_ctx, _ = old_world
    before = dump()
    with pytest.raises(KeyUnavailable, match="'old'"):
        keys.rotate_keys(_with_ring(old_ctx, NEW), cli)
    assert dump() == before


def test_rotation_only_touches_rows_under_other_keys(
    ctx: Context, cli: Origin, make_user: MakeUser
) -> None:
    """Credentials already under the primary key are left byte for byte as they were."""
    dan = make_user("dan")
    new_ctx = _with_ring(ctx, NEW)
    kept = _enrol(new_ctx, dan.id, 0)
    moved = _enrol(_with_ring(ctx, OLD), dan.id, 1)
    with transaction(ctx.session_factory) as s:
        sealed_before = {c.id: c.secret_sealed for c in s.scalars(select(OtpCredential))}
    assert keys.rotate_keys(_with_ring(ctx, NEW, OLD), cli) == 1
    with transaction(ctx.session_factory) as s:
        sealed_after = {c.id: c.secret_sealed for c in s.scalars(select(OtpCredential))}
    assert sealed_after[kept] == sealed_before[kept]
    assert sealed_after[moved] != sealed_before[moved]


@pytest.mark.parametrize("batch_size", [0, -1, 10_001, True, "10", 2.5])
def test_rotation_refuses_bad_batch_sizes(
    ctx: Context, cli: Origin, dump: Callable[[], Dump], batch_size: Any
) -> None:
    """The batch size must be an integer from 1 to 10000."""
    before = dump()
    with pytest.raises(InvalidInput):
        keys.rotate_keys(ctx, cli, batch_size=batch_size)
    assert dump() == before
