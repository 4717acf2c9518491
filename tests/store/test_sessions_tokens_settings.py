"""Repositories of web sessions, API tokens and run-time settings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from otpgate.store import repositories as repo
from otpgate.store.db import transaction
from otpgate.store.errors import Conflict

from ._helpers import NOW, new_user

HOUR = timedelta(hours=1)


def _session(s: Session, id_hash: str, user_id: int | None, expires_in: timedelta = HOUR) -> None:
    repo.add_session(
        s,
        id_hash=id_hash,
        created_at=NOW,
        last_seen_at=NOW,
        expires_at=NOW + expires_in,
        user_id=user_id,
    )


def test_add_and_get_session(factory: sessionmaker[Session]) -> None:
    """A session keeps its fields and JSON data; an unknown hash gives None."""
    with transaction(factory) as s:
        uid = new_user(s).id
        repo.add_session(
            s,
            id_hash="s1",
            created_at=NOW,
            last_seen_at=NOW,
            expires_at=NOW + HOUR,
            user_id=uid,
            level="password",
            data={"csrf": "abc", "next": "/profile"},
            client_addr="203.0.113.7",
            user_agent="Firefox",
            step_up_at=NOW,
        )
        with pytest.raises(Conflict):
            _session(s, "s1", None)
    with transaction(factory) as s:
        got = repo.get_session(s, "s1")
        assert got is not None
        assert (got.user_id, got.level, got.data) == (
            uid,
            "password",
            {"csrf": "abc", "next": "/profile"},
        )
        assert (got.client_addr, got.user_agent) == ("203.0.113.7", "Firefox")
        assert (got.created_at, got.last_seen_at, got.expires_at, got.step_up_at) == (
            NOW,
            NOW,
            NOW + HOUR,
            NOW,
        )
        assert repo.get_session(s, "s2") is None


def test_anonymous_session_has_defaults(factory: sessionmaker[Session]) -> None:
    """A session without a user is anonymous with empty data."""
    with transaction(factory) as s:
        _session(s, "anon", None)
    with transaction(factory) as s:
        got = repo.get_session(s, "anon")
        assert got is not None
        assert (got.user_id, got.level, got.data, got.step_up_at) == (None, "anonymous", {}, None)


def test_delete_sessions(factory: sessionmaker[Session]) -> None:
    """Sessions go one by one, per user (keeping one if asked), or when expired."""
    with transaction(factory) as s:
        alice, bob = new_user(s, "alice").id, new_user(s, "bob").id
        for name in ("a1", "a2", "a3"):
            _session(s, name, alice)
        _session(s, "b1", bob)
        _session(s, "old", None, expires_in=-HOUR)
        _session(s, "edge", None, expires_in=timedelta(0))
    with transaction(factory) as s:
        assert repo.delete_session(s, "a1") is True
        assert repo.delete_session(s, "a1") is False
        assert repo.delete_sessions_of(s, alice, keep="a3") == 1
        assert repo.delete_expired_sessions(s, NOW) == 2
    with transaction(factory) as s:
        left = [h for h in ("a1", "a2", "a3", "b1", "old", "edge") if repo.get_session(s, h)]
        assert left == ["a3", "b1"]
        assert repo.delete_sessions_of(s, alice) == 1


def test_api_tokens(factory: sessionmaker[Session]) -> None:
    """API tokens are stored, found by hash, listed oldest first and revoked once."""
    with transaction(factory) as s:
        first = repo.add_api_token(
            s, name="portal", token_hash="h1", scopes="verify", created_at=NOW, created_by="root"
        )
        second = repo.add_api_token(
            s, name="admin", token_hash="h2", scopes="verify admin", created_at=NOW
        )
        with pytest.raises(Conflict):
            repo.add_api_token(s, name="dup", token_hash="h1", scopes="", created_at=NOW)
    with transaction(factory) as s:
        found = repo.find_api_token(s, "h1")
        assert found is not None
        assert (found.id, found.name, found.scopes, found.created_by) == (
            first.id,
            "portal",
            "verify",
            "root",
        )
        assert repo.find_api_token(s, "h3") is None
        assert [t.id for t in repo.list_api_tokens(s)] == [first.id, second.id]
        assert repo.revoke_api_token(s, first.id, NOW) is True
        assert repo.revoke_api_token(s, first.id, NOW) is False
    with transaction(factory) as s:
        revoked = repo.find_api_token(s, "h1")
        assert revoked is not None
        assert revoked.revoked_at == NOW


def test_settings_set_replace_and_delete(factory: sessionmaker[Session]) -> None:
    """A setting is created, replaced in place (also in a loaded row) and deleted."""
    with transaction(factory) as s:
        assert repo.get_setting(s, "policy") is None
        repo.set_setting(s, "policy", "all")
        assert repo.get_setting(s, "policy") == "all"
        repo.set_setting(s, "policy", "admins")
        assert repo.get_setting(s, "policy") == "admins"
    with transaction(factory) as s:
        assert repo.get_setting(s, "policy") == "admins"
        assert repo.delete_setting(s, "policy") is True
        assert repo.delete_setting(s, "policy") is False
        assert repo.get_setting(s, "policy") is None
