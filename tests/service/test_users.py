"""Accounts: creation rules, look-ups, listing, passwords, deactivation, language."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from db_support import Dump
from otpgate.security.errors import PasswordMismatch
from otpgate.service import audit, users
from otpgate.service.context import Context, Origin
from otpgate.service.errors import (
    AccountDisabled,
    AuthenticationFailed,
    Conflict,
    InvalidInput,
    Locked,
    NotFound,
    NotPermitted,
)
from otpgate.service.throttle import pair_scope
from otpgate.service.views import UserView
from otpgate.store import repositories as repo
from otpgate.store.db import transaction
from otpgate.store.models import User

from .conftest import PASSWORD

MakeUser = Callable[..., UserView]
NEW_PASSWORD = "another long passphrase"


def _password_ok(ctx: Context, user_id: int, password: str) -> bool:
    with transaction(ctx.session_factory) as s:
        user = s.get(User, user_id)
        assert user is not None
        try:
            return ctx.hasher.verify(user.password_hash, password)
        except PasswordMismatch:
            return False


def _add_session(ctx: Context, user_id: int, id_hash: str) -> None:
    now = ctx.now_dt()
    with transaction(ctx.session_factory) as s:
        repo.add_session(
            s,
            id_hash=id_hash,
            user_id=user_id,
            level="full",
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=1),
        )


def _session_ids(ctx: Context) -> set[str]:
    from sqlalchemy import select

    from otpgate.store.models import WebSession

    with transaction(ctx.session_factory) as s:
        return set(s.scalars(select(WebSession.id_hash)))


# --- create_user -----------------------------------------------------------------------


def test_create_user_stores_case_folded_name_and_hashed_password(
    ctx: Context, cli: Origin
) -> None:
    """A new user's name is stored lower-case and the password only as an argon2 hash."""
    view = users.create_user(
        ctx, cli, "  Alice.B-c_d@Example ", PASSWORD, email="a@example.org", display_name="Alice"
    )
    assert view.username == "alice.b-c_d@example"
    assert (view.email, view.display_name, view.is_admin, view.is_active) == (
        "a@example.org",
        "Alice",
        False,
        True,
    )
    assert view.has_2fa is False
    assert view.created_at == ctx.now_dt()
    assert _password_ok(ctx, view.id, PASSWORD)
    with transaction(ctx.session_factory) as s:
        stored = s.get(User, view.id)
        assert stored is not None and PASSWORD not in stored.password_hash
        assert stored.password_hash.startswith("$argon2id$")


def test_create_user_accepts_a_150_character_name(ctx: Context, cli: Origin) -> None:
    """The longest allowed username (150 characters) is accepted."""
    assert users.create_user(ctx, cli, "a" * 150, PASSWORD).username == "a" * 150


def test_create_user_is_audited_with_actor_and_subject(
    ctx: Context, web: Origin, make_user: MakeUser
) -> None:
    """user.created names the admin who acted, the new user and the origin."""
    boss = make_user("boss", admin=True)
    users.create_user(ctx, web, "bob", PASSWORD, actor_id=boss.id)
    events = audit.query_audit(ctx, username="bob", kind="user.created")
    assert len(events) == 1
    event = events[0]
    assert (event.actor_name, event.subject_name, event.source) == ("boss", "bob", "web")
    assert event.client_addr == web.client_addr
    assert event.detail == {"is_admin": False}


@pytest.mark.parametrize(
    "username",
    ["", "   ", "a" * 151, "alice smith", "élodie", "al!ce", "bob/x", "tab\tname", "\uff41lice"],
)
def test_create_user_refuses_bad_usernames(
    ctx: Context, cli: Origin, dump: Callable[[], Dump], username: str
) -> None:
    """Usernames outside 1-150 ASCII letters, digits and ._-@ are refused, nothing stored."""
    before = dump()
    with pytest.raises(InvalidInput, match="username"):
        users.create_user(ctx, cli, username, PASSWORD)
    assert dump() == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("username", 42),
        ("username", None),
        ("password", "short"),
        ("password", "x" * 1025),
        ("password", b"bytes password"),
        ("email", "not-an-email"),
        ("email", "a@b@c"),
        ("email", "x" * 330 + "@example.org"),
        ("display_name", "d" * 201),
        ("display_name", "line\nbreak"),
        ("is_admin", "yes"),
        ("locale", "de"),
        ("locale", 1),
    ],
)
def test_create_user_refuses_bad_fields(
    ctx: Context, cli: Origin, dump: Callable[[], Dump], field: str, value: Any
) -> None:
    """Each field of a new user is checked; a bad one raises InvalidInput and stores nothing."""
    args: dict[str, Any] = {"username": "carol", "password": PASSWORD}
    args[field] = value
    before = dump()
    with pytest.raises(InvalidInput):
        users.create_user(ctx, cli, **args)
    assert dump() == before


def test_create_user_refuses_a_taken_name_in_any_case(
    ctx: Context, cli: Origin, make_user: MakeUser, dump: Callable[[], Dump]
) -> None:
    """A username differing only in case from an existing one is a Conflict."""
    make_user("dave")
    before = dump()
    with pytest.raises(Conflict, match="already taken"):
        users.create_user(ctx, cli, "DAVE", PASSWORD)
    assert dump() == before


def test_create_user_needs_an_admin_actor_from_the_web(
    ctx: Context, web: Origin, make_user: MakeUser, dump: Callable[[], Dump]
) -> None:
    """From the web, no actor, a plain user or a deactivated admin cannot create accounts."""
    plain = make_user("plain")
    boss = make_user("boss", admin=True)
    make_user("boss2", admin=True)
    users.deactivate_user(ctx, Origin("cli"), None, boss.id)
    before = dump()
    for actor_id in (None, plain.id, boss.id, 999_999):
        with pytest.raises(NotPermitted):
            users.create_user(ctx, web, "eve", PASSWORD, actor_id=actor_id)
    assert dump() == before


# --- look-ups --------------------------------------------------------------------------


def test_get_and_find_user(ctx: Context, make_user: MakeUser) -> None:
    """A user is found by id and by name in any case; unknown ones raise NotFound."""
    frank = make_user("frank")
    assert users.get_user(ctx, frank.id) == frank
    assert users.find_user(ctx, "FRANK") == frank
    with pytest.raises(NotFound):
        users.get_user(ctx, frank.id + 1000)
    with pytest.raises(NotFound):
        users.find_user(ctx, "nobody")
    with pytest.raises(InvalidInput):
        users.get_user(ctx, "1")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        users.find_user(ctx, "no body")


def test_list_users_searches_and_reports_2fa_and_locks(
    ctx: Context, make_user: MakeUser
) -> None:
    """list_users matches name, display name and e-mail and reports authenticators and locks."""
    gina = make_user("gina", display_name="Gina Lollo", email="gl@example.org")
    make_user("hank", email="hank@corp.example")
    ivan = make_user("ivan", display_name="Ivan the Terrible")
    now = ctx.now_dt()
    with transaction(ctx.session_factory) as s:
        for status in ("active", "active", "pending"):
            repo.add_credential(
                s,
                user_id=gina.id,
                kind="totp",
                status=status,
                secret_sealed=b"\x00" * 40,
                key_id="test1",
                created_at=now,
            )
        scope = pair_scope(ivan.id, "code", "198.51.100.1")
        repo.record_failure(s, scope, now)
        repo.set_lock(s, scope, now + timedelta(minutes=5))

    everyone = users.list_users(ctx)
    assert [u.username for u in everyone] == ["gina", "hank", "ivan"]
    by_name = {u.username: u for u in everyone}
    assert (by_name["gina"].has_2fa, by_name["gina"].authenticators) == (True, 2)
    assert (by_name["hank"].has_2fa, by_name["hank"].authenticators) == (False, 0)
    assert by_name["ivan"].locked_until == now + timedelta(minutes=5)
    assert by_name["gina"].locked_until is None

    assert [u.username for u in users.list_users(ctx, "LOLLO")] == ["gina"]
    assert [u.username for u in users.list_users(ctx, "corp.example")] == ["hank"]
    assert [u.username for u in users.list_users(ctx, "terrible")] == ["ivan"]
    assert users.list_users(ctx, "%") == []
    assert [u.username for u in users.list_users(ctx, limit=1, offset=1)] == ["hank"]

    ctx.clock.advance(301)  # type: ignore[attr-defined]
    assert users.list_users(ctx, "ivan")[0].locked_until is None


@pytest.mark.parametrize(
    "args", [{"limit": 0}, {"limit": 1001}, {"offset": -1}, {"limit": True}, {"search": 5}]
)
def test_list_users_refuses_bad_paging(ctx: Context, args: dict[str, Any]) -> None:
    """Out-of-range limits, negative offsets and non-text searches are InvalidInput."""
    with pytest.raises(InvalidInput):
        users.list_users(ctx, **args)


def test_count_users(ctx: Context, make_user: MakeUser) -> None:
    """count_users counts every account, active or not."""
    assert users.count_users(ctx) == 0
    make_user("a1", admin=True)
    b = make_user("b1")
    users.deactivate_user(ctx, Origin("cli"), None, b.id)
    assert users.count_users(ctx) == 2


# --- passwords -------------------------------------------------------------------------


def test_change_password_ends_the_users_sessions(
    ctx: Context, web: Origin, make_user: MakeUser
) -> None:
    """After a change the new password works, the old does not, and the user's sessions end."""
    jane = make_user("jane")
    other = make_user("kyle")
    _add_session(ctx, jane.id, "s-jane-1")
    _add_session(ctx, jane.id, "s-jane-2")
    _add_session(ctx, other.id, "s-kyle")
    users.change_password(ctx, web, jane.id, PASSWORD, NEW_PASSWORD)
    assert _password_ok(ctx, jane.id, NEW_PASSWORD)
    assert not _password_ok(ctx, jane.id, PASSWORD)
    assert _session_ids(ctx) == {"s-kyle"}
    [event] = audit.query_audit(ctx, username="jane", kind="user.password_changed")
    assert (event.actor_name, event.subject_name) == ("jane", "jane")


def test_change_password_refuses_a_wrong_old_password(
    ctx: Context, web: Origin, make_user: MakeUser, dump: Callable[[], Dump]
) -> None:
    """A wrong current password changes neither password nor sessions; it is only counted."""
    liam = make_user("liam")
    _add_session(ctx, liam.id, "s-liam")
    before = dump()
    with pytest.raises(AuthenticationFailed, match="current password"):
        users.change_password(ctx, web, liam.id, "wrong password!", NEW_PASSWORD)
    after = dump()
    for table in ("users", "sessions", "otp_credentials", "recovery_codes", "api_tokens"):
        assert after[table] == before[table]
    assert len(after["throttles"]) == 2
    [event] = audit.query_audit(ctx, username="liam", kind="login.password_failed")
    assert event.detail["purpose"] == "change_password"


def test_change_password_is_throttled(ctx: Context, web: Origin, make_user: MakeUser) -> None:
    """Repeated wrong current passwords lock the password step; then even the right one fails."""
    mona = make_user("mona")
    with pytest.raises(Locked):
        for _ in range(50):
            with pytest.raises(AuthenticationFailed):
                users.change_password(ctx, web, mona.id, "wrong password!", NEW_PASSWORD)
    with pytest.raises(Locked):
        users.change_password(ctx, web, mona.id, PASSWORD, NEW_PASSWORD)
    assert _password_ok(ctx, mona.id, PASSWORD)


@pytest.mark.parametrize(
    ("old", "new"),
    [(PASSWORD, "short"), (PASSWORD, PASSWORD), (None, NEW_PASSWORD), (PASSWORD, 12345678901)],
)
def test_change_password_refuses_bad_values(
    ctx: Context, web: Origin, make_user: MakeUser, dump: Callable[[], Dump], old: Any, new: Any
) -> None:
    """A weak, unchanged or non-text password is InvalidInput and changes nothing."""
    mia = make_user("mia")
    before = dump()
    with pytest.raises(InvalidInput):
        users.change_password(ctx, web, mia.id, old, new)
    assert dump() == before


def test_change_password_of_a_deactivated_user_is_refused(
    ctx: Context, web: Origin, cli: Origin, make_user: MakeUser
) -> None:
    """A deactivated account cannot change its password."""
    ned = make_user("ned")
    users.deactivate_user(ctx, cli, None, ned.id)
    with pytest.raises(AccountDisabled):
        users.change_password(ctx, web, ned.id, PASSWORD, NEW_PASSWORD)


def test_set_password_by_an_admin(
    ctx: Context, web: Origin, make_user: MakeUser, dump: Callable[[], Dump]
) -> None:
    """An admin sets a password (sessions end, audited); a plain user may not."""
    boss = make_user("boss", admin=True)
    olga = make_user("olga")
    _add_session(ctx, olga.id, "s-olga")
    before = dump()
    with pytest.raises(NotPermitted):
        users.set_password(ctx, web, olga.id, olga.id, NEW_PASSWORD, step_up_at=ctx.now_dt())
    with pytest.raises(InvalidInput):
        users.set_password(ctx, web, boss.id, olga.id, "short", step_up_at=ctx.now_dt())
    assert dump() == before
    users.set_password(ctx, web, boss.id, olga.id, NEW_PASSWORD, step_up_at=ctx.now_dt())
    assert _password_ok(ctx, olga.id, NEW_PASSWORD)
    assert _session_ids(ctx) == set()
    [event] = audit.query_audit(ctx, username="olga", kind="user.password_changed")
    assert (event.actor_name, event.detail) == ("boss", {"by_admin": True})


# --- deactivation ----------------------------------------------------------------------


def test_deactivate_user_ends_sessions_and_is_audited(
    ctx: Context, web: Origin, make_user: MakeUser
) -> None:
    """A deactivated user is inactive, has no session left and the event names the admin."""
    boss = make_user("boss", admin=True)
    pete = make_user("pete")
    _add_session(ctx, pete.id, "s-pete")
    users.deactivate_user(ctx, web, boss.id, pete.id, step_up_at=ctx.now_dt())
    assert users.get_user(ctx, pete.id).is_active is False
    assert _session_ids(ctx) == set()
    [event] = audit.query_audit(ctx, username="pete", kind="user.deactivated")
    assert event.actor_name == "boss"
    # A second time changes nothing and writes no second event.
    users.deactivate_user(ctx, web, boss.id, pete.id, step_up_at=ctx.now_dt())
    assert len(audit.query_audit(ctx, username="pete", kind="user.deactivated")) == 1


def test_deactivate_refuses_self_and_the_last_admin(
    ctx: Context, web: Origin, cli: Origin, make_user: MakeUser, dump: Callable[[], Dump]
) -> None:
    """An admin cannot deactivate themselves, and the last active admin stays active."""
    boss = make_user("boss", admin=True)
    before = dump()
    with pytest.raises(Conflict, match="your own"):
        users.deactivate_user(ctx, web, boss.id, boss.id, step_up_at=ctx.now_dt())
    with pytest.raises(Conflict, match="last active administrator"):
        users.deactivate_user(ctx, cli, None, boss.id)
    assert dump() == before
    other = make_user("other", admin=True)
    users.deactivate_user(ctx, web, other.id, boss.id, step_up_at=ctx.now_dt())
    assert users.get_user(ctx, boss.id).is_active is False


# --- language --------------------------------------------------------------------------


def test_set_locale(ctx: Context, make_user: MakeUser, dump: Callable[[], Dump]) -> None:
    """The language is "en", "fr" or None; anything else is InvalidInput and stores nothing."""
    rose = make_user("rose")
    users.set_locale(ctx, rose.id, "fr")
    assert users.get_user(ctx, rose.id).locale == "fr"
    before = dump()
    for bad in ("de", "FR", "", 3):
        with pytest.raises(InvalidInput):
            users.set_locale(ctx, rose.id, bad)  # type: ignore[arg-type]
    assert dump() == before
    users.set_locale(ctx, rose.id, None)
    assert users.get_user(ctx, rose.id).locale is None
