"""Repositories of recovery codes and trusted devices."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from otpgate.store import repositories as repo
from otpgate.store.db import transaction
from otpgate.store.errors import Conflict

from ._helpers import NOW, new_user

LATER = NOW + timedelta(days=30)


def test_recovery_code_is_consumed_once(factory: sessionmaker[Session]) -> None:
    """A stored code hash is consumed once; the second try and an unknown hash are refused."""
    with transaction(factory) as s:
        uid = new_user(s).id
        assert repo.add_recovery_codes(s, uid, ["h1", "h2", "h3"], NOW) == 3
    with transaction(factory) as s:
        assert repo.recovery_codes_left(s, uid) == 3
        assert repo.consume_recovery_code(s, uid, "h2", LATER) is True
        assert repo.consume_recovery_code(s, uid, "h2", LATER) is False
        assert repo.consume_recovery_code(s, uid, "nope", LATER) is False
        assert repo.recovery_codes_left(s, uid) == 2


def test_recovery_code_of_another_user_is_refused(factory: sessionmaker[Session]) -> None:
    """A code hash stored for one user cannot be consumed for another."""
    with transaction(factory) as s:
        alice, bob = new_user(s, "alice"), new_user(s, "bob")
        repo.add_recovery_codes(s, alice.id, ["h1"], NOW)
        assert repo.consume_recovery_code(s, bob.id, "h1", NOW) is False
        assert repo.recovery_codes_left(s, alice.id) == 1


def test_recovery_codes_are_added_all_or_none(factory: sessionmaker[Session]) -> None:
    """A batch with a hash already stored raises Conflict and stores none of the batch."""
    with transaction(factory) as s:
        uid = new_user(s).id
        repo.add_recovery_codes(s, uid, ["h1"], NOW)
        with pytest.raises(Conflict):
            repo.add_recovery_codes(s, uid, ["h2", "h1", "h3"], NOW)
        assert repo.recovery_codes_left(s, uid) == 1


def test_delete_recovery_codes_used_or_not(factory: sessionmaker[Session]) -> None:
    """delete_recovery_codes removes all of the user's codes, and only theirs."""
    with transaction(factory) as s:
        alice, bob = new_user(s, "alice"), new_user(s, "bob")
        repo.add_recovery_codes(s, alice.id, ["a1", "a2"], NOW)
        repo.add_recovery_codes(s, bob.id, ["b1"], NOW)
        repo.consume_recovery_code(s, alice.id, "a1", NOW)
    with transaction(factory) as s:
        assert repo.delete_recovery_codes(s, alice.id) == 2
        assert repo.recovery_codes_left(s, alice.id) == 0
        assert repo.recovery_codes_left(s, bob.id) == 1


def _device(s: Session, uid: int, token_hash: str, minutes: int = 0) -> int:
    when = NOW + timedelta(minutes=minutes)
    row = repo.add_trusted_device(
        s, user_id=uid, token_hash=token_hash, created_at=when, expires_at=LATER, name=token_hash
    )
    return row.id


def test_trusted_device_is_found_by_user_and_token_hash(factory: sessionmaker[Session]) -> None:
    """find_trusted_device needs both the owner and the hash; a duplicate hash is a Conflict."""
    with transaction(factory) as s:
        alice, bob = new_user(s, "alice"), new_user(s, "bob")
        dev = repo.add_trusted_device(
            s,
            user_id=alice.id,
            token_hash="t1",
            created_at=NOW,
            expires_at=LATER,
            name="Firefox on laptop",
            client_addr="203.0.113.7",
        )
        with pytest.raises(Conflict):
            _device(s, bob.id, "t1")
    with transaction(factory) as s:
        found = repo.find_trusted_device(s, alice.id, "t1")
        assert found is not None
        assert (found.id, found.name, found.client_addr) == (
            dev.id,
            "Firefox on laptop",
            "203.0.113.7",
        )
        assert (found.expires_at, found.revoked_at) == (LATER, None)
        assert repo.find_trusted_device(s, bob.id, "t1") is None
        assert repo.find_trusted_device(s, alice.id, "t2") is None


def test_trusted_devices_listed_newest_first_without_revoked(
    factory: sessionmaker[Session],
) -> None:
    """trusted_devices_of lists the newest first and hides revoked ones unless asked."""
    with transaction(factory) as s:
        uid = new_user(s).id
        first, second, third = (_device(s, uid, f"t{i}", minutes=i) for i in range(3))
        assert repo.revoke_trusted_device(s, uid, second, NOW) is True
    with transaction(factory) as s:
        assert [d.id for d in repo.trusted_devices_of(s, uid)] == [third, first]
        listed = repo.trusted_devices_of(s, uid, include_revoked=True)
        assert [d.id for d in listed] == [third, second, first]


def test_revoke_trusted_device_once_and_only_own(factory: sessionmaker[Session]) -> None:
    """A device is revoked once, by its owner; another user's or a second revoke is refused."""
    with transaction(factory) as s:
        alice, bob = new_user(s, "alice"), new_user(s, "bob")
        dev = _device(s, alice.id, "t1")
    with transaction(factory) as s:
        assert repo.revoke_trusted_device(s, bob.id, dev, NOW) is False
        assert repo.revoke_trusted_device(s, alice.id, dev, NOW) is True
        assert repo.revoke_trusted_device(s, alice.id, dev, LATER) is False
    with transaction(factory) as s:
        found = repo.find_trusted_device(s, alice.id, "t1")
        assert found is not None
        assert found.revoked_at == NOW


def test_revoke_all_and_delete_devices(factory: sessionmaker[Session]) -> None:
    """revoke_all_devices counts the newly revoked; delete_trusted_devices removes the rows."""
    with transaction(factory) as s:
        alice, bob = new_user(s, "alice"), new_user(s, "bob")
        one = _device(s, alice.id, "a1")
        _device(s, alice.id, "a2")
        _device(s, bob.id, "b1")
        repo.revoke_trusted_device(s, alice.id, one, NOW)
    with transaction(factory) as s:
        assert repo.revoke_all_devices(s, alice.id, LATER) == 1
        assert repo.trusted_devices_of(s, alice.id) == []
        assert len(repo.trusted_devices_of(s, bob.id)) == 1
        assert repo.delete_trusted_devices(s, alice.id) == 2
        assert repo.trusted_devices_of(s, alice.id, include_revoked=True) == []
