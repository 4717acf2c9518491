"""Groups for protected sites: the service rules and ``otpgate group`` on both backends."""

from __future__ import annotations

import base64
import sys
from io import StringIO
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from otpgate.cli import main
from otpgate.config import Settings
from otpgate.security.passwords import PasswordHasher
from otpgate.security.secretbox import KeyRing
from otpgate.service import groups, users
from otpgate.service.clock import FixedClock
from otpgate.service.context import Context, Origin
from otpgate.service.errors import InvalidInput, NotPermitted
from otpgate.store.db import make_session_factory
from otpgate.store.models import AuditEvent, UserGroup

OPERATOR = Origin("cli", user_agent="cli:test")
WEB = Origin("web")
PASSWORD = "correct horse battery staple"


@pytest.fixture
def ctx(engine: Engine, tmp_path: Path) -> Context:
    settings = Settings(
        home=tmp_path, database_url=engine.url.render_as_string(hide_password=False),
        argon2_time_cost=1, argon2_memory_kib=8, argon2_parallelism=1,
    )
    return Context(
        settings=settings,
        session_factory=make_session_factory(engine),
        keyring=KeyRing([("test", bytes(range(32)))]),
        hasher=PasswordHasher(time_cost=1, memory_kib=8, parallelism=1),
        clock=FixedClock(1_900_000_000),
    )


def _rows(ctx: Context, model: type[UserGroup] | type[AuditEvent]) -> int:
    with ctx.session_factory() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_membership_is_added_once_removed_once_and_audited(ctx: Context) -> None:
    """Add twice → one row and one audit event; names are case-folded; remove undoes it."""
    user = users.create_user(ctx, OPERATOR, "alice", PASSWORD)
    events = _rows(ctx, AuditEvent)
    assert groups.add_to_group(ctx, OPERATOR, None, user.id, " Staff ") is True
    assert groups.add_to_group(ctx, OPERATOR, None, user.id, "staff") is False
    assert groups.groups_of(ctx, user.id) == frozenset({"staff"})
    assert [u.username for u in groups.group_members(ctx, "STAFF")] == ["alice"]
    assert _rows(ctx, AuditEvent) == events + 1
    assert groups.remove_from_group(ctx, OPERATOR, None, user.id, "staff") is True
    assert groups.remove_from_group(ctx, OPERATOR, None, user.id, "staff") is False
    assert groups.groups_of(ctx, user.id) == frozenset()
    assert _rows(ctx, AuditEvent) == events + 2


def test_admins_group_follows_the_admin_flag_and_cannot_be_edited(ctx: Context) -> None:
    """Admins are in "admins" without a row; the group cannot be stored by hand."""
    admin = users.create_user(ctx, OPERATOR, "root", PASSWORD, is_admin=True)
    user = users.create_user(ctx, OPERATOR, "bob", PASSWORD)
    assert groups.groups_of(ctx, admin.id) == frozenset({"admins"})
    assert [u.username for u in groups.group_members(ctx, "admins")] == ["root"]
    with pytest.raises(InvalidInput, match="admin flag"):
        groups.add_to_group(ctx, OPERATOR, None, user.id, "admins")
    assert _rows(ctx, UserGroup) == 0


@pytest.mark.parametrize("name", ["", "a b", "-x", "é", "x" * 65, 7])
def test_bad_group_names_change_nothing(ctx: Context, name: object) -> None:
    """A bad name is InvalidInput and leaves no row and no audit event."""
    user = users.create_user(ctx, OPERATOR, "alice", PASSWORD)
    events = _rows(ctx, AuditEvent)
    with pytest.raises(InvalidInput):
        groups.add_to_group(ctx, OPERATOR, None, user.id, name)  # type: ignore[arg-type]
    assert (_rows(ctx, UserGroup), _rows(ctx, AuditEvent)) == (0, events)


def test_only_an_admin_may_change_groups_from_the_web(ctx: Context) -> None:
    """From the web, a non-admin actor is NotPermitted; an admin actor may."""
    admin = users.create_user(ctx, OPERATOR, "root", PASSWORD, is_admin=True)
    user = users.create_user(ctx, OPERATOR, "bob", PASSWORD)
    with pytest.raises(NotPermitted):
        groups.add_to_group(ctx, WEB, user.id, user.id, "staff")
    with pytest.raises(NotPermitted):
        groups.add_to_group(ctx, WEB, None, user.id, "staff")
    assert groups.add_to_group(ctx, WEB, admin.id, user.id, "staff") is True


def test_group_command_line(
    ctx: Context, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``otpgate group add/list/members/remove`` print one line per fact."""
    users.create_user(ctx, OPERATOR, "alice", PASSWORD)
    key = base64.urlsafe_b64encode(bytes(range(32))).decode()
    monkeypatch.setenv("OTPGATE_HOME", str(ctx.settings.home))
    monkeypatch.setenv("OTPGATE_DATABASE_URL", ctx.settings.database_url)
    monkeypatch.setenv("OTPGATE_SECRET_KEYS", f"test:{key}")
    monkeypatch.setattr(sys, "stdin", StringIO(""))

    def run(*argv: str) -> tuple[int, str]:
        capsys.readouterr()
        code = main(list(argv))
        return code, capsys.readouterr().out

    assert run("group", "add", "alice", "Staff") == (0, "alice added to staff\n")
    assert run("group", "add", "alice", "staff") == (0, "alice already in staff\n")
    assert run("group", "list", "alice") == (0, "staff\n")
    assert run("group", "members", "staff") == (0, "alice\n")
    assert run("group", "remove", "alice", "staff") == (0, "alice removed from staff\n")
    code, _ = run("group", "add", "alice", "bad name")
    assert code != 0
    assert _rows(ctx, UserGroup) == 0
