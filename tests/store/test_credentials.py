"""Repositories of OTP credentials, with the replay guard advance_last_step."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from otpgate.store import repositories as repo
from otpgate.store.db import transaction
from otpgate.store.errors import Conflict

from ._helpers import NOW, new_credential, new_user

LATER = NOW + timedelta(minutes=5)


def test_add_and_get_credential(factory: sessionmaker[Session]) -> None:
    """add_credential stores every field; get_credential reads it back, None for an unknown id."""
    with transaction(factory) as s:
        user = new_user(s)
        cred = repo.add_credential(
            s,
            user_id=user.id,
            kind="hotp",
            status="pending",
            secret_sealed=b"\x00\xffsealed",
            key_id="k2",
            created_at=NOW,
            name="My phone",
            algorithm="SHA256",
            digits=8,
            period=60,
            expires_at=LATER,
        )
    with transaction(factory) as s:
        got = repo.get_credential(s, cred.id)
        assert got is not None
        assert (got.user_id, got.kind, got.status, got.name) == (
            user.id,
            "hotp",
            "pending",
            "My phone",
        )
        assert (got.secret_sealed, got.key_id, got.algorithm) == (b"\x00\xffsealed", "k2", "SHA256")
        assert (got.digits, got.period, got.last_step, got.drift_seconds) == (8, 60, -1, 0.0)
        assert (got.created_at, got.expires_at, got.confirmed_at) == (NOW, LATER, None)
        assert repo.get_credential(s, cred.id + 1000) is None


def test_credential_of_unknown_user_is_a_conflict(factory: sessionmaker[Session]) -> None:
    """A credential for a user that does not exist is refused by the foreign key."""
    with transaction(factory) as s, pytest.raises(Conflict):
        new_credential(s, 999)


def test_credentials_of_filters_by_status(factory: sessionmaker[Session]) -> None:
    """credentials_of lists the user's active ones by default, pending ones or all on request."""
    with transaction(factory) as s:
        alice, bob = new_user(s, "alice"), new_user(s, "bob")
        a1 = new_credential(s, alice.id)
        p1 = new_credential(s, alice.id, status="pending")
        a2 = new_credential(s, alice.id)
        new_credential(s, bob.id)
    with transaction(factory) as s:
        assert [c.id for c in repo.credentials_of(s, alice.id)] == [a1.id, a2.id]
        assert [c.id for c in repo.credentials_of(s, alice.id, "pending")] == [p1.id]
        assert [c.id for c in repo.credentials_of(s, alice.id, None)] == [a1.id, p1.id, a2.id]


def test_advance_last_step_accepts_only_newer_steps(factory: sessionmaker[Session]) -> None:
    """A step is accepted once; the same or an older step is refused afterwards."""
    with transaction(factory) as s:
        cred = new_credential(s, new_user(s).id)
    with transaction(factory) as s:
        assert repo.advance_last_step(s, cred.id, 100, now=NOW, drift_seconds=-30.0) is True
    with transaction(factory) as s:
        assert repo.advance_last_step(s, cred.id, 100, now=LATER, drift_seconds=0.0) is False
        assert repo.advance_last_step(s, cred.id, 99, now=LATER, drift_seconds=0.0) is False
        assert repo.advance_last_step(s, cred.id, 101, now=LATER, drift_seconds=15.0) is True
    with transaction(factory) as s:
        got = repo.get_credential(s, cred.id)
        assert got is not None
        assert (got.last_step, got.last_used_at, got.drift_seconds) == (101, LATER, 15.0)


def test_advance_last_step_accepts_step_zero_first(factory: sessionmaker[Session]) -> None:
    """A fresh credential (last_step -1) accepts HOTP counter 0."""
    with transaction(factory) as s:
        cred = new_credential(s, new_user(s).id)
        assert repo.advance_last_step(s, cred.id, 0, now=NOW, drift_seconds=0.0) is True


def test_advance_last_step_ignores_pending_and_unknown(factory: sessionmaker[Session]) -> None:
    """A pending credential or an unknown id never accepts a step and is not changed."""
    with transaction(factory) as s:
        pending = new_credential(s, new_user(s).id, status="pending")
        assert repo.advance_last_step(s, pending.id, 5, now=NOW, drift_seconds=0.0) is False
        assert repo.advance_last_step(s, pending.id + 1, 5, now=NOW, drift_seconds=0.0) is False
    with transaction(factory) as s:
        got = repo.get_credential(s, pending.id)
        assert got is not None
        assert (got.last_step, got.last_used_at) == (-1, None)


def test_advance_last_step_updates_a_loaded_row(factory: sessionmaker[Session]) -> None:
    """A credential already loaded in the session shows the new step without a reload."""
    with transaction(factory) as s:
        cred = new_credential(s, new_user(s).id)
    with transaction(factory) as s:
        loaded = repo.get_credential(s, cred.id)
        assert loaded is not None
        assert repo.advance_last_step(s, cred.id, 7, now=NOW, drift_seconds=3.0)
        assert (loaded.last_step, loaded.drift_seconds, loaded.last_used_at) == (7, 3.0, NOW)
        assert not s.dirty


def test_delete_credential_only_of_its_owner(factory: sessionmaker[Session]) -> None:
    """delete_credential removes the user's credential and refuses another user's."""
    with transaction(factory) as s:
        alice, bob = new_user(s, "alice"), new_user(s, "bob")
        cred = new_credential(s, alice.id)
    with transaction(factory) as s:
        assert repo.delete_credential(s, bob.id, cred.id) is False
        assert repo.delete_credential(s, alice.id, cred.id) is True
        assert repo.delete_credential(s, alice.id, cred.id) is False
        assert repo.get_credential(s, cred.id) is None


def test_delete_credentials_removes_all_of_one_user(factory: sessionmaker[Session]) -> None:
    """delete_credentials removes a user's active and pending credentials, no one else's."""
    with transaction(factory) as s:
        alice, bob = new_user(s, "alice"), new_user(s, "bob")
        new_credential(s, alice.id)
        new_credential(s, alice.id, status="pending")
        kept = new_credential(s, bob.id)
    with transaction(factory) as s:
        assert repo.delete_credentials(s, alice.id) == 2
        assert repo.credentials_of(s, alice.id, None) == []
        assert [c.id for c in repo.credentials_of(s, bob.id)] == [kept.id]


def test_deleted_rows_leave_the_session(factory: sessionmaker[Session]) -> None:
    """A credential loaded before a bulk delete is gone from the session, and commit works."""
    with transaction(factory) as s:
        uid = new_user(s).id
        cred = new_credential(s, uid)
    with transaction(factory) as s:
        loaded = repo.get_credential(s, cred.id)
        assert repo.delete_credentials(s, uid) == 1
        assert loaded not in s
        assert repo.get_credential(s, cred.id) is None


def test_delete_expired_pending(factory: sessionmaker[Session]) -> None:
    """Only pending credentials whose expiry is at or before now are deleted."""
    with transaction(factory) as s:
        uid = new_user(s).id
        gone = new_credential(s, uid, status="pending", expires_at=NOW - timedelta(seconds=1))
        edge = new_credential(s, uid, status="pending", expires_at=NOW)
        fresh = new_credential(s, uid, status="pending", expires_at=NOW + timedelta(seconds=1))
        no_expiry = new_credential(s, uid, status="pending")
        active = new_credential(s, uid, expires_at=NOW - timedelta(days=1))
    with transaction(factory) as s:
        assert repo.delete_expired_pending(s, NOW) == 2
        left = {c.id for c in repo.credentials_of(s, uid, None)}
        assert left == {fresh.id, no_expiry.id, active.id}
        assert not {gone.id, edge.id} & left


def test_credentials_not_under_a_key(factory: sessionmaker[Session]) -> None:
    """credentials_not_under lists, by id and up to the limit, those sealed under other keys."""
    with transaction(factory) as s:
        uid = new_user(s).id
        old = [new_credential(s, uid, key_id="old") for _ in range(3)]
        new_credential(s, uid, key_id="new")
        pending_old = new_credential(s, uid, status="pending", key_id="older")
    with transaction(factory) as s:
        assert [c.id for c in repo.credentials_not_under(s, "new", 10)] == [
            *(c.id for c in old),
            pending_old.id,
        ]
        assert [c.id for c in repo.credentials_not_under(s, "new", 2)] == [old[0].id, old[1].id]
        assert len(repo.credentials_not_under(s, "nothing-else", 10)) == 5
