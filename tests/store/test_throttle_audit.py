"""Repositories of throttles (the shared failure counters) and audit events."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from otpgate.store import repositories as repo
from otpgate.store.db import transaction

from ._helpers import NOW

T1 = NOW + timedelta(seconds=10)


def test_record_failure_creates_then_counts(factory: sessionmaker[Session]) -> None:
    """The first failure creates the counter at 1; later ones add 1 and move last_failure_at."""
    with transaction(factory) as s:
        assert repo.get_throttle(s, "user:1") is None
        first = repo.record_failure(s, "user:1", NOW)
        assert (first.failures, first.first_failure_at, first.last_failure_at) == (1, NOW, NOW)
    with transaction(factory) as s:
        loaded = repo.get_throttle(s, "user:1")
        again = repo.record_failure(s, "user:1", T1)
        assert again is loaded
        assert (again.failures, again.first_failure_at, again.last_failure_at) == (2, NOW, T1)
        assert again.locked_until is None
    with transaction(factory) as s:
        stored = repo.get_throttle(s, "user:1")
        assert stored is not None
        assert stored.failures == 2


def test_scopes_count_separately(factory: sessionmaker[Session]) -> None:
    """Failures of one scope do not count for another."""
    with transaction(factory) as s:
        repo.record_failure(s, "user:1", NOW)
        repo.record_failure(s, "user:1", NOW)
        assert repo.record_failure(s, "user:2", NOW).failures == 1


def test_set_lock_and_lift_it(factory: sessionmaker[Session]) -> None:
    """set_lock sets and clears locked_until of an existing counter, and refuses a missing one."""
    with transaction(factory) as s:
        repo.record_failure(s, "user:1", NOW)
        assert repo.set_lock(s, "user:1", T1) is True
        assert repo.set_lock(s, "user:2", T1) is False
        assert repo.get_throttle(s, "user:2") is None
    with transaction(factory) as s:
        locked = repo.get_throttle(s, "user:1")
        assert locked is not None
        assert locked.locked_until == T1
        assert repo.record_failure(s, "user:1", T1).locked_until == T1
        assert repo.set_lock(s, "user:1", None) is True
    with transaction(factory) as s:
        lifted = repo.get_throttle(s, "user:1")
        assert lifted is not None
        assert lifted.locked_until is None


def test_clear_throttle(factory: sessionmaker[Session]) -> None:
    """clear_throttle forgets one scope and says whether it existed."""
    with transaction(factory) as s:
        repo.record_failure(s, "user:1", NOW)
        assert repo.clear_throttle(s, "user:1") is True
        assert repo.clear_throttle(s, "user:1") is False
        assert repo.get_throttle(s, "user:1") is None


def test_clear_throttles_like_takes_the_prefix_literally(factory: sessionmaker[Session]) -> None:
    """Only scopes starting with the exact prefix go; '_' and '%' are not wildcards."""
    scopes = ["user-addr:4|1.2.3.4", "user-addr:4|5.6.7.8", "user-addr:42|1.2.3.4", "user:4"]
    scopes += ["a_b:1", "axb:1", "100%:x", "1000:x"]
    with transaction(factory) as s:
        for scope in scopes:
            repo.record_failure(s, scope, NOW)
    with transaction(factory) as s:
        assert repo.clear_throttles_like(s, "user-addr:4|") == 2
        assert repo.clear_throttles_like(s, "a_") == 1
        assert repo.clear_throttles_like(s, "100%") == 1
        left = [sc for sc in scopes if repo.get_throttle(s, sc) is not None]
        assert left == ["user-addr:42|1.2.3.4", "user:4", "axb:1", "1000:x"]


def _audit(s: Session, minutes: int, kind: str = "login.ok", subject: int = 1) -> int:
    row = repo.add_audit(
        s,
        at=NOW + timedelta(minutes=minutes),
        kind=kind,
        subject_id=subject,
        subject_name=f"user{subject}",
        actor_id=subject + 100,
    )
    return row.id


def test_add_audit_stores_every_field(factory: sessionmaker[Session]) -> None:
    """An audit event keeps its fields, and its detail as JSON."""
    detail = {"note": "called back on the phone number on file", "n": 3, "ok": True}
    with transaction(factory) as s:
        repo.add_audit(
            s,
            at=NOW,
            kind="2fa.reset",
            source="cli",
            actor_id=7,
            actor_name="root",
            subject_id=1,
            subject_name="alice",
            client_addr="::1",
            user_agent="curl/8",
            detail=detail,
        )
    with transaction(factory) as s:
        (event,) = repo.query_audit(s)
        assert (event.at, event.kind, event.source) == (NOW, "2fa.reset", "cli")
        assert (event.actor_id, event.actor_name) == (7, "root")
        assert (event.subject_id, event.subject_name) == (1, "alice")
        assert (event.client_addr, event.user_agent, event.detail) == ("::1", "curl/8", detail)


def test_query_audit_newest_first_with_filters(factory: sessionmaker[Session]) -> None:
    """query_audit filters by subject, actor, kind and a [since, until) window, newest first."""
    with transaction(factory) as s:
        a = _audit(s, 0)
        b = _audit(s, 1, kind="login.code_failed")
        c = _audit(s, 2, subject=2)
        d = _audit(s, 3)
        same_time = _audit(s, 3)
    since, until = NOW + timedelta(minutes=1), NOW + timedelta(minutes=3)
    with transaction(factory) as s:
        assert [e.id for e in repo.query_audit(s)] == [same_time, d, c, b, a]
        assert [e.id for e in repo.query_audit(s, subject_id=1)] == [same_time, d, b, a]
        assert [e.id for e in repo.query_audit(s, kind="login.code_failed")] == [b]
        assert [e.id for e in repo.query_audit(s, since=since, until=until)] == [c, b]
        assert [e.id for e in repo.query_audit(s, subject_id=2, kind="login.ok")] == [c]
        assert [e.id for e in repo.query_audit(s, subject_name="user2")] == [c]
        assert [e.id for e in repo.query_audit(s, actor_id=102)] == [c]


def test_query_audit_pages(factory: sessionmaker[Session]) -> None:
    """limit and offset page through the newest-first list."""
    with transaction(factory) as s:
        ids = [_audit(s, m) for m in range(5)]
    with transaction(factory) as s:
        assert [e.id for e in repo.query_audit(s, limit=2)] == [ids[4], ids[3]]
        assert [e.id for e in repo.query_audit(s, limit=2, offset=3)] == [ids[1], ids[0]]
