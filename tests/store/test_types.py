"""Stored values: aware UTC datetimes, and rows that follow their user on delete."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session, sessionmaker

from otpgate.store import repositories as repo
from otpgate.store.db import transaction
from otpgate.store.models import OtpCredential, RecoveryCode, TrustedDevice, User, WebSession

from ._helpers import NOW, new_credential, new_user


def test_aware_datetimes_round_trip_as_utc(factory: sessionmaker[Session]) -> None:
    """A datetime in another zone comes back as the same instant, in UTC, to the microsecond."""
    paris = datetime(2025, 7, 14, 23, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    with transaction(factory) as s:
        uid = repo.add_user(s, username="a", password_hash="h", created_at=paris).id
    with transaction(factory) as s:
        user = repo.get_user(s, uid)
        assert user is not None
        assert user.created_at == paris
        assert user.created_at.tzinfo is UTC
        assert user.created_at == datetime(2025, 7, 14, 21, 30, 15, 123456, tzinfo=UTC)


def test_datetime_comparisons_use_the_instant(factory: sessionmaker[Session]) -> None:
    """Queries compare stored times with aware parameters in any zone by instant."""
    with transaction(factory) as s:
        uid = new_user(s).id
        new_credential(s, uid, status="pending", expires_at=NOW)
    just_before = NOW.astimezone(timezone(timedelta(hours=-5))) - timedelta(microseconds=1)
    with transaction(factory) as s:
        assert repo.delete_expired_pending(s, just_before) == 0
        assert repo.delete_expired_pending(s, NOW.astimezone(timezone(timedelta(hours=9)))) == 1


def test_naive_datetime_is_refused_and_nothing_stored(factory: sessionmaker[Session]) -> None:
    """A naive datetime raises (wrapping ValueError) and leaves no row behind."""
    with pytest.raises(StatementError) as info, transaction(factory) as s:
        repo.add_user(s, username="a", password_hash="h", created_at=datetime(2025, 1, 1))
    assert isinstance(info.value.orig, ValueError)
    with transaction(factory) as s:
        assert repo.count_users(s) == 0


def test_deleting_a_user_deletes_what_belongs_to_them(factory: sessionmaker[Session]) -> None:
    """Credentials, recovery codes, devices and sessions follow their user (ON DELETE CASCADE)."""
    with transaction(factory) as s:
        alice, bob = new_user(s, "alice").id, new_user(s, "bob").id
        for uid in (alice, bob):
            new_credential(s, uid)
            repo.add_recovery_codes(s, uid, [f"code-{uid}"], NOW)
            repo.add_trusted_device(
                s, user_id=uid, token_hash=f"dev-{uid}", created_at=NOW, expires_at=NOW
            )
            repo.add_session(
                s, id_hash=f"s-{uid}", created_at=NOW, last_seen_at=NOW, expires_at=NOW, user_id=uid
            )
    with transaction(factory) as s:
        s.execute(delete(User).where(User.id == alice))
    with transaction(factory) as s:
        for model in (OtpCredential, RecoveryCode, TrustedDevice, WebSession):
            owners = s.scalars(select(model.user_id)).all()
            assert owners == [bob], model.__name__
        assert s.scalar(select(func.count()).select_from(User)) == 1
