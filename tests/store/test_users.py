"""Repositories of users."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from otpgate.store import repositories as repo
from otpgate.store.db import transaction
from otpgate.store.errors import Conflict, InvalidValue

from ._helpers import NOW, new_user


def test_add_user_stores_every_field_and_folds_the_name(factory: sessionmaker[Session]) -> None:
    """add_user stores the given fields, the name case-folded, and returns the row with its id."""
    with transaction(factory) as s:
        user = repo.add_user(
            s,
            username="Ælice",
            password_hash="h",
            created_at=NOW,
            display_name="Alice A.",
            email="a@example.org",
            is_admin=True,
            locale="fr",
        )
        user_id = user.id
    with transaction(factory) as s:
        stored = repo.get_user(s, user_id)
        assert stored is not None
        assert (stored.username, stored.display_name, stored.email) == (
            "ælice",
            "Alice A.",
            "a@example.org",
        )
        assert (stored.is_admin, stored.is_active, stored.locale) == (True, True, "fr")
        assert stored.password_changed_at == stored.created_at == NOW


def test_get_user_of_unknown_id_is_none(factory: sessionmaker[Session]) -> None:
    """get_user returns None for an id no user has."""
    with transaction(factory) as s:
        assert repo.get_user(s, 12345) is None


def test_find_user_ignores_case(factory: sessionmaker[Session]) -> None:
    """find_user finds "alice" as "ALICE" and returns None for an unknown name."""
    with transaction(factory) as s:
        user = new_user(s, "Alice")
    with transaction(factory) as s:
        found = repo.find_user(s, "ALICE")
        assert found is not None
        assert found.id == user.id
        assert repo.find_user(s, "bob") is None


def test_duplicate_username_is_a_conflict_that_spares_the_transaction(
    factory: sessionmaker[Session],
) -> None:
    """A second "ALICE" raises Conflict, and the transaction can still commit other work."""
    with transaction(factory) as s:
        new_user(s, "alice")
        with pytest.raises(Conflict):
            new_user(s, "ALICE")
        new_user(s, "bob")
    with transaction(factory) as s:
        assert [u.username for u in repo.search_users(s)] == ["alice", "bob"]


def test_search_users_matches_name_display_name_and_email(factory: sessionmaker[Session]) -> None:
    """search_users finds text anywhere in name, display name or e-mail, in any case."""
    with transaction(factory) as s:
        repo.add_user(s, username="carol", password_hash="h", created_at=NOW, email="c@EXAMPLE.org")
        repo.add_user(
            s, username="dave", password_hash="h", created_at=NOW, display_name="Example D"
        )
        new_user(s, "erin")
    with transaction(factory) as s:
        assert [u.username for u in repo.search_users(s, "example")] == ["carol", "dave"]
        assert [u.username for u in repo.search_users(s, "RIN")] == ["erin"]


def test_search_users_takes_wildcards_literally(factory: sessionmaker[Session]) -> None:
    """'%' and '_' in the search text match only themselves."""
    with transaction(factory) as s:
        new_user(s, "a_b")
        new_user(s, "axb")
        new_user(s, "100%")
    with transaction(factory) as s:
        assert [u.username for u in repo.search_users(s, "_")] == ["a_b"]
        assert [u.username for u in repo.search_users(s, "%")] == ["100%"]


def test_search_users_pages_in_name_order(factory: sessionmaker[Session]) -> None:
    """limit and offset page through users sorted by name."""
    with transaction(factory) as s:
        for name in ["dan", "bea", "eve", "ann", "cid"]:
            new_user(s, name)
    with transaction(factory) as s:
        assert [u.username for u in repo.search_users(s, limit=2)] == ["ann", "bea"]
        assert [u.username for u in repo.search_users(s, limit=2, offset=2)] == ["cid", "dan"]
        assert [u.username for u in repo.search_users(s, offset=4)] == ["eve"]


def test_count_users(factory: sessionmaker[Session]) -> None:
    """count_users counts every user, active or not."""
    with transaction(factory) as s:
        assert repo.count_users(s) == 0
        new_user(s, "a")
        repo.add_user(s, username="b", password_hash="h", created_at=NOW, is_active=False)
        assert repo.count_users(s) == 2


def test_too_long_username_on_postgres_is_invalid_value(factory: sessionmaker[Session]) -> None:
    """PostgreSQL refuses a 151-character name as InvalidValue and the transaction goes on."""
    with transaction(factory) as s:
        postgres = s.get_bind().dialect.name == "postgresql"
        if postgres:
            with pytest.raises(InvalidValue):
                new_user(s, "x" * 151)
        else:  # SQLite does not check lengths; the service layer does it first
            new_user(s, "x" * 151)
        new_user(s, "bob")
    with transaction(factory) as s:
        assert repo.count_users(s) == (1 if postgres else 2)
