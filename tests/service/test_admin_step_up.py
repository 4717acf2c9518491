"""The full step-up (password + a current code) that portal admins need before actions that
weaken someone's protection; the operator channels (CLI, API token) need none."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from db_support import Dump
from otpgate.service import admin, api_tokens, audit, bypass, users
from otpgate.service import web_sessions as ws
from otpgate.service.admin_step_up import StepUpProof, step_up_is_fresh, verify_admin_step_up
from otpgate.service.context import Context, Origin
from otpgate.service.errors import (
    AuthenticationFailed,
    CodeRejected,
    InvalidInput,
    NotEnrolled,
    RejectReason,
    StepUpRequired,
)
from otpgate.service.views import UserView

from .conftest import PASSWORD
from .twofa import clock_of, enrol, wrong_code

MakeUser = Callable[..., UserView]
NOTE = "called back on the number on file"
NEW_PASSWORD = "a brand new long passphrase"

# Each weakening action, called by ``actor_id`` (None: an operator) on ``target``.
Action = Callable[[Context, Origin, "int | None", int, "datetime | None"], object]
ACTIONS: dict[str, Action] = {
    "reset_2fa": lambda ctx, o, a, t, at: admin.reset_2fa(ctx, o, a, t, NOTE, step_up_at=at),
    "bypass": lambda ctx, o, a, t, at: bypass.issue_bypass_code(
        ctx, o, a, t, NOTE, step_up_at=at
    ),
    "deactivate": lambda ctx, o, a, t, at: users.deactivate_user(ctx, o, a, t, step_up_at=at),
    "set_password": lambda ctx, o, a, t, at: users.set_password(
        ctx, o, a, t, NEW_PASSWORD, step_up_at=at
    ),
    "policy": lambda ctx, o, a, t, at: admin.set_policy(
        ctx, o, a, require_all=True, require_admins=True, issuer="ACME", step_up_at=at
    ),
    "create_admin": lambda ctx, o, a, t, at: users.create_user(
        ctx, o, "newadmin", NEW_PASSWORD, is_admin=True, actor_id=a, step_up_at=at
    ),
    "api_token": lambda ctx, o, a, t, at: api_tokens.create_api_token(
        ctx, o, a, "integration", {"admin"}, step_up_at=at
    ),
}

AUDITED = {
    "reset_2fa": "2fa.reset", "bypass": "bypass.issued", "deactivate": "user.deactivated",
    "set_password": "user.password_changed", "policy": "policy.changed",
    "create_admin": "user.created", "api_token": "api_token.created",
}


def _boss_and_target(ctx: Context, web: Origin, make_user: MakeUser) -> tuple[int, int]:
    boss, target = make_user("boss", admin=True), make_user("target")
    enrol(ctx, web, boss.id)
    enrol(ctx, web, target.id)
    return boss.id, target.id


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_a_portal_admin_without_a_step_up_changes_nothing(
    ctx: Context, web: Origin, make_user: MakeUser, dump: Callable[[], Dump], name: str
) -> None:
    """No step-up, or one older than step_up_seconds, is StepUpRequired and writes nothing."""
    boss, target = _boss_and_target(ctx, web, make_user)
    stale = ctx.now_dt() - timedelta(seconds=ctx.settings.step_up_seconds + 1)
    before = dump()
    for step_up_at in (None, stale):
        with pytest.raises(StepUpRequired):
            ACTIONS[name](ctx, web, boss, target, step_up_at)
    assert dump() == before


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_a_fresh_step_up_or_an_operator_channel_may_act(
    ctx: Context, web: Origin, cli: Origin, make_user: MakeUser, name: str
) -> None:
    """A step-up within the window lets a portal admin act; the CLI needs none."""
    boss, target = _boss_and_target(ctx, web, make_user)
    recent = ctx.now_dt() - timedelta(seconds=ctx.settings.step_up_seconds - 1)
    ACTIONS[name](ctx, web, boss, target, recent)
    [latest] = audit.query_audit(ctx, kind=AUDITED[name], limit=1)
    assert latest.actor_name == "boss"
    if name in ("policy", "api_token", "bypass", "set_password"):  # repeatable
        ACTIONS[name](ctx, cli, None, target, None)
        [latest] = audit.query_audit(ctx, kind=AUDITED[name], limit=1)
        assert (latest.actor_name, latest.source) == ("", "cli")


def test_step_up_needs_the_password_and_a_current_code(
    ctx: Context, web: Origin, make_user: MakeUser
) -> None:
    """Wrong password, missing, wrong or replayed code are refused (wrong ones counted and
    audited); the right pair gives the time to keep."""
    boss = make_user("boss", admin=True)
    phone = enrol(ctx, web, boss.id)
    bad = wrong_code(phone.totp, ctx.clock.now(), 1)
    with pytest.raises(AuthenticationFailed):
        verify_admin_step_up(ctx, web, boss.id, StepUpProof("not the password", phone.code(ctx)))
    with pytest.raises(CodeRejected) as missing:
        verify_admin_step_up(ctx, web, boss.id, StepUpProof(PASSWORD))
    assert missing.value.reason is RejectReason.MALFORMED
    with pytest.raises(CodeRejected) as wrong:
        verify_admin_step_up(ctx, web, boss.id, StepUpProof(PASSWORD, bad))
    assert wrong.value.reason is RejectReason.WRONG
    failed = audit.query_audit(ctx, username="boss")
    purposes = {e.detail.get("purpose") for e in failed if "failed" in e.kind}
    assert purposes == {"admin_step_up"}
    at = verify_admin_step_up(ctx, web, boss.id, StepUpProof(PASSWORD, phone.code(ctx)))
    assert at == ctx.now_dt() and step_up_is_fresh(ctx, at)
    with pytest.raises(CodeRejected) as replayed:
        verify_admin_step_up(ctx, web, boss.id, StepUpProof(PASSWORD, phone.code(ctx)))
    assert replayed.value.reason is RejectReason.REPLAYED
    clock_of(ctx).advance(ctx.settings.step_up_seconds + 1)
    assert not step_up_is_fresh(ctx, at)


def test_an_admin_without_2fa_cannot_step_up_under_the_default_policy(
    ctx: Context, web: Origin, cli: Origin, make_user: MakeUser
) -> None:
    """Out of the box an admin must enrol first; if an admin turned the rule off, the
    password alone is the step-up of an account without a second factor."""
    boss = make_user("boss", admin=True)
    with pytest.raises(NotEnrolled):
        verify_admin_step_up(ctx, web, boss.id, StepUpProof(PASSWORD, "123456"))
    admin.set_policy(ctx, cli, None, require_all=False, require_admins=False, issuer="x")
    assert verify_admin_step_up(ctx, web, boss.id, StepUpProof(PASSWORD)) == ctx.now_dt()


def test_the_session_keeps_the_full_step_up_for_its_own_user_only(
    ctx: Context, web: Origin, make_user: MakeUser
) -> None:
    """Only record_step_up(admin=True) sets it; it follows a rotation for the same user,
    not to another user or to a logout."""
    alice, bob = make_user("alice"), make_user("bob")
    start, _ = ws.start_session(ctx, web)
    token, view = ws.rotate_session(ctx, web, start, level="full", user_id=alice.id)
    assert view.admin_step_up_at is None
    with pytest.raises(InvalidInput):
        ws.update_session_data(ctx, view.id_hash, admin_step_up_at=ctx.now_dt().isoformat())
    ws.record_step_up(ctx, view.id_hash, ctx.now_dt())
    assert _view(ctx, token).admin_step_up_at is None  # a password-only step-up
    ws.record_step_up(ctx, view.id_hash, ctx.now_dt(), admin=True)
    assert _view(ctx, token).admin_step_up_at == ctx.now_dt()
    token, view = ws.rotate_session(ctx, web, token, level="full", user_id=alice.id)
    assert view.admin_step_up_at == ctx.now_dt()
    _, other = ws.rotate_session(ctx, web, token, level="full", user_id=bob.id)
    assert other.admin_step_up_at is None


def _view(ctx: Context, token: str) -> ws.WebSessionView:
    view = ws.load_session(ctx, token)
    assert view is not None
    return view
