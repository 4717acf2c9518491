"""Enabling a disabled account again and giving or taking admin rights: full step-up from
the portal, audited, guarded against self-changes and losing the last admin."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from db_support import Dump
from otpgate.service import admin_rights, audit, login, users
from otpgate.service import web_sessions as ws
from otpgate.service.context import Context, Origin
from otpgate.service.errors import AccountDisabled, Conflict, StepUpRequired
from otpgate.service.views import UserView

from .conftest import PASSWORD

MakeUser = Callable[..., UserView]


def test_reactivate_needs_a_step_up_and_lets_the_account_log_in(
    ctx: Context, web: Origin, cli: Origin, make_user: MakeUser, dump: Callable[[], Dump]
) -> None:
    """A deactivated account comes back only with the admin's fresh step-up; audited."""
    boss, pete = make_user("boss", admin=True), make_user("pete")
    users.deactivate_user(ctx, cli, None, pete.id)
    with pytest.raises(AccountDisabled):
        login.check_password(ctx, web, "pete", PASSWORD)
    before = dump()
    with pytest.raises(StepUpRequired):
        admin_rights.reactivate_user(ctx, web, boss.id, pete.id)
    assert dump() == before
    admin_rights.reactivate_user(ctx, web, boss.id, pete.id, step_up_at=ctx.now_dt())
    assert login.check_password(ctx, web, "pete", PASSWORD).user.username == "pete"
    [event] = audit.query_audit(ctx, kind="user.reactivated")
    assert (event.actor_name, event.subject_name) == ("boss", "pete")
    admin_rights.reactivate_user(ctx, cli, None, pete.id)  # already active: no new event
    assert len(audit.query_audit(ctx, kind="user.reactivated")) == 1


def test_granting_and_revoking_admin_rights(
    ctx: Context, web: Origin, cli: Origin, make_user: MakeUser, dump: Callable[[], Dump]
) -> None:
    """Grant and revoke need the step-up, are audited; revoking ends the account's
    sessions; one's own rights and the last admin's are refused."""
    boss, ann = make_user("boss", admin=True), make_user("ann")
    now = ctx.now_dt()
    before = dump()
    with pytest.raises(StepUpRequired):
        admin_rights.set_admin(ctx, web, boss.id, ann.id, True)
    assert dump() == before
    admin_rights.set_admin(ctx, web, boss.id, ann.id, True, step_up_at=now)
    assert users.get_user(ctx, ann.id).is_admin
    anonymous, _ = ws.start_session(ctx, web)
    token, _ = ws.rotate_session(ctx, web, anonymous, level="full", user_id=ann.id)
    with pytest.raises(Conflict):
        admin_rights.set_admin(ctx, web, boss.id, boss.id, False, step_up_at=now)
    admin_rights.set_admin(ctx, web, boss.id, ann.id, False, step_up_at=now)
    assert not users.get_user(ctx, ann.id).is_admin
    assert ws.load_session(ctx, token) is None
    kinds = [e.kind for e in audit.query_audit(ctx, username="ann")]
    assert "user.admin_granted" in kinds and "user.admin_revoked" in kinds
    with pytest.raises(Conflict):  # boss is the last active admin
        admin_rights.set_admin(ctx, cli, None, boss.id, False)
