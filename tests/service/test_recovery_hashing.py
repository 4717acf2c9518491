"""Recovery codes are stored as an HMAC under a key derived from the secret keys.

A dump holds no unkeyed hash of a code, so its 60 bits cannot be searched offline;
codes issued under a key still in the ring keep working after a rotation; rows stored
before keyed hashes (plain SHA-256, NULL key id) work once more, then count as used.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, select

from db_support import Dump
from otpgate.security.secretbox import KeyRing
from otpgate.security.tokens import hash_recovery_code, normalise_recovery_code
from otpgate.service import login
from otpgate.service.context import Context, Origin
from otpgate.service.errors import CodeRejected, RejectReason
from otpgate.service.views import UserView
from otpgate.store import repositories as repo
from otpgate.store.db import transaction
from otpgate.store.models import RecoveryCode

from .conftest import TEST_KEY, TEST_KEY_ID
from .twofa import enrol

MakeUser = Callable[..., UserView]
NEW_KEY = ("test2", bytes(range(50, 82)))


def _unkeyed_forms(code: str) -> list[str]:
    """Every plain SHA-256 a careless store could hold for the code."""
    canonical = normalise_recovery_code(code)
    return [
        hash_recovery_code(code),
        *(
            hashlib.sha256(form.encode()).hexdigest()
            for form in (code, canonical, canonical.replace("-", ""))
        ),
    ]


def _rows(ctx: Context, user_id: int) -> list[tuple[str, str | None]]:
    with transaction(ctx.session_factory) as s:
        query = select(RecoveryCode.code_hash, RecoveryCode.key_id).where(
            RecoveryCode.user_id == user_id
        )
        return [(h, k) for h, k in s.execute(query)]


def test_dump_holds_no_unkeyed_hash_of_a_code(
    ctx: Context, web: Origin, make_user: MakeUser, engine: Engine, dump: Callable[[], Dump]
) -> None:
    """Every issued code is stored under the primary key's id, and no plain SHA-256 of
    any spelling of it is anywhere in the tables."""
    user = make_user("alice")
    phone = enrol(ctx, web, user.id)
    text = repr(dump())
    assert {k for _, k in _rows(ctx, user.id)} == {TEST_KEY_ID}
    leaks = [h for code in phone.recovery_codes for h in _unkeyed_forms(code) if h in text]
    assert leaks == []
    # The keyed form is what is stored, and it opens the login.
    assert login.verify_recovery_code(ctx, web, user.id, phone.recovery_codes[0]).method == (
        "recovery"
    )


def test_codes_of_an_older_key_work_after_rotation(
    ctx: Context, web: Origin, make_user: MakeUser
) -> None:
    """With a new primary key in front, codes hashed under the old one are still accepted
    (once); codes issued afterwards are hashed under the new key."""
    user = make_user("alice")
    before = enrol(ctx, web, user.id).recovery_codes
    rotated = dataclasses.replace(ctx, keyring=KeyRing([NEW_KEY, (TEST_KEY_ID, TEST_KEY)]))
    assert login.verify_recovery_code(rotated, web, user.id, before[0]).method == "recovery"
    with pytest.raises(CodeRejected) as again:
        login.verify_recovery_code(rotated, web, user.id, before[0])
    assert again.value.reason is RejectReason.REPLAYED
    bob = make_user("bob")
    enrol(rotated, web, bob.id)
    assert {k for _, k in _rows(rotated, bob.id)} == {NEW_KEY[0]}


def test_a_code_whose_key_was_removed_is_refused(
    ctx: Context, web: Origin, make_user: MakeUser
) -> None:
    """A ring without the key a code was hashed under cannot find it: WRONG."""
    user = make_user("alice")
    codes = enrol(ctx, web, user.id).recovery_codes
    without = dataclasses.replace(ctx, keyring=KeyRing([NEW_KEY]))
    with pytest.raises(CodeRejected) as refused:
        login.verify_recovery_code(without, web, user.id, codes[0])
    assert refused.value.reason is RejectReason.WRONG


LEGACY_CODE = "abcd-efgh-ijkm"


def _add_legacy_code(ctx: Context, user_id: int) -> None:
    """A row as versions before keyed hashes stored it: plain SHA-256, no key id."""
    with transaction(ctx.session_factory) as s:
        repo.add_recovery_codes(s, user_id, [hash_recovery_code(LEGACY_CODE)], ctx.now_dt())


def test_a_legacy_code_works_once(
    ctx: Context, web: Origin, make_user: MakeUser, dump: Callable[[], Dump]
) -> None:
    """A code stored under the old unkeyed hash is accepted once, in any spelling; the
    second use is REPLAYED, changes nothing and leaves only its audit row."""
    user = make_user("alice")
    enrol(ctx, web, user.id)
    _add_legacy_code(ctx, user.id)
    assert (hash_recovery_code(LEGACY_CODE), None) in _rows(ctx, user.id)
    factor = login.verify_recovery_code(ctx, web, user.id, " ABCD EFGH-IJKM ")
    assert factor.method == "recovery"
    before = dump()
    with pytest.raises(CodeRejected) as again:
        login.verify_recovery_code(ctx, web, user.id, LEGACY_CODE)
    assert again.value.reason is RejectReason.REPLAYED
    after = dump()
    added = after["audit_events"][len(before["audit_events"]):]
    assert len(added) == 1 and "login.code_replayed" in repr(added[0])
    assert {k: v for k, v in after.items() if k != "audit_events"} == {
        k: v for k, v in before.items() if k != "audit_events"
    }


def test_regenerating_replaces_legacy_codes(
    ctx: Context, web: Origin, make_user: MakeUser
) -> None:
    """After regeneration the legacy code is gone and every row has a key id."""
    from otpgate.service import recovery

    user = make_user("alice")
    enrol(ctx, web, user.id)
    _add_legacy_code(ctx, user.id)
    codes = recovery.regenerate_recovery_codes(ctx, web, user.id, step_up_at=ctx.now_dt())
    assert all(k == TEST_KEY_ID for _, k in _rows(ctx, user.id))
    with pytest.raises(CodeRejected) as refused:
        login.verify_recovery_code(ctx, web, user.id, LEGACY_CODE)
    assert refused.value.reason is RejectReason.WRONG
    assert login.verify_recovery_code(ctx, web, user.id, codes[-1]).method == "recovery"
