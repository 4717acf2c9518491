"""Admin one-time bypass codes: issued with a note, shown once, hashed, single use, short-lived."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from db_support import Dump
from otpgate.service import audit, bypass, login
from otpgate.service.context import Context, Origin
from otpgate.service.errors import (
    AccountDisabled,
    CodeRejected,
    InvalidInput,
    Locked,
    NotEnrolled,
    NotPermitted,
    RejectReason,
)
from otpgate.service.views import UserView
from otpgate.store.db import transaction
from otpgate.store.models import BypassCode

from .twofa import clock_of, enrol, wrong_code

MakeUser = Callable[..., UserView]
NOTE = "called back on the number on file"


def test_issue_then_use_once(
    ctx: Context, web: Origin, cli: Origin, make_user: MakeUser
) -> None:
    """The code logs in once as ``bypass`` (audited with the note), is stored only hashed,
    and the authenticators stay."""
    admin, alice = make_user("root", admin=True), make_user("alice")
    enrol(ctx, web, alice.id)
    issued = bypass.issue_bypass_code(ctx, web, admin.id, alice.id, NOTE, step_up_at=ctx.now_dt())
    assert issued.code not in repr(issued)
    assert bypass.bypass_valid_until(ctx, alice.id) == issued.expires_at
    with transaction(ctx.session_factory) as s:
        row = s.scalars(select(BypassCode)).one()
        assert issued.code not in (row.code_hash, row.note)
        assert issued.code.replace("-", "") not in row.code_hash
    factor = bypass.verify_recovery_or_bypass_code(ctx, web, alice.id, issued.code.upper())
    assert (factor.method, factor.credential_id, factor.recovery_codes_left) == (
        "bypass", None, 10
    )
    with pytest.raises(CodeRejected):
        bypass.verify_recovery_or_bypass_code(ctx, web, alice.id, issued.code)
    assert bypass.bypass_valid_until(ctx, alice.id) is None
    issued_event = audit.query_audit(ctx, kind="bypass.issued")[0]
    assert issued_event.detail["note"] == NOTE and issued_event.actor_name == "root"
    assert issued.code not in issued_event.to_json()
    assert audit.query_audit(ctx, kind="bypass.used")[0].subject_name == "alice"
    assert login.check_password(ctx, web, "alice", "correct horse battery").needs_second_factor


def test_expires_after_the_configured_minutes(
    ctx: Context, web: Origin, cli: Origin, make_user: MakeUser
) -> None:
    """A code older than ``bypass_code_minutes`` is refused like any unknown code."""
    alice = make_user("alice")
    enrol(ctx, web, alice.id)
    issued = bypass.issue_bypass_code(ctx, cli, None, alice.id, NOTE)
    clock_of(ctx).advance(ctx.settings.bypass_code_minutes * 60)
    with pytest.raises(CodeRejected) as late:
        bypass.verify_recovery_or_bypass_code(ctx, web, alice.id, issued.code)
    assert late.value.reason is RejectReason.WRONG


def test_a_new_code_cancels_the_previous_one(
    ctx: Context, web: Origin, cli: Origin, make_user: MakeUser
) -> None:
    """Only the latest code works; codes are per user."""
    alice, bob = make_user("alice"), make_user("bob")
    enrol(ctx, web, alice.id)
    enrol(ctx, web, bob.id)
    first = bypass.issue_bypass_code(ctx, cli, None, alice.id, NOTE)
    second = bypass.issue_bypass_code(ctx, cli, None, alice.id, NOTE)
    with pytest.raises(CodeRejected):
        bypass.verify_recovery_or_bypass_code(ctx, web, bob.id, second.code)
    with pytest.raises(CodeRejected):
        bypass.verify_recovery_or_bypass_code(ctx, web, alice.id, first.code)
    assert bypass.verify_recovery_or_bypass_code(ctx, web, alice.id, second.code).method == (
        "bypass"
    )


def test_recovery_codes_still_work_on_the_same_path(
    ctx: Context, web: Origin, make_user: MakeUser
) -> None:
    """Without a bypass code the function is the recovery-code step."""
    alice = make_user("alice")
    phone = enrol(ctx, web, alice.id)
    factor = bypass.verify_recovery_or_bypass_code(ctx, web, alice.id, phone.recovery_codes[0])
    assert (factor.method, factor.recovery_codes_left) == ("recovery", 9)


def test_works_while_a_stranger_has_locked_the_codes(
    ctx: Context, web: Origin, cli: Origin, make_user: MakeUser
) -> None:
    """Wrong codes lock the account's code step; the bypass code still gets the user in."""
    alice = make_user("alice")
    phone = enrol(ctx, web, alice.id)
    for n in range(8):
        stranger = Origin("web", f"198.51.100.{n}")
        with pytest.raises((CodeRejected, Locked)):  # wrong, then locked
            login.verify_code(ctx, stranger, alice.id, wrong_code(phone.totp, ctx.clock.now(), n))
    with pytest.raises(Locked):
        login.verify_code(ctx, web, alice.id, phone.code(ctx))
    issued = bypass.issue_bypass_code(ctx, cli, None, alice.id, NOTE)
    assert bypass.verify_recovery_or_bypass_code(ctx, web, alice.id, issued.code).method == (
        "bypass"
    )


@pytest.mark.parametrize("note", ["", "too short", 42, "x" * 1001])
def test_the_note_is_mandatory(
    ctx: Context, cli: Origin, make_user: MakeUser, dump: Callable[[], Dump], note: object
) -> None:
    """A missing, short, non-text or huge note is refused and nothing is written."""
    alice = make_user("alice")
    before = dump()
    with pytest.raises(InvalidInput):
        bypass.issue_bypass_code(ctx, cli, None, alice.id, note)  # type: ignore[arg-type]
    assert dump() == before


def test_who_may_issue_and_for_whom(
    ctx: Context, web: Origin, make_user: MakeUser, dump: Callable[[], Dump]
) -> None:
    """Not for oneself, not by a non-admin or from the web without an actor, not for a
    user without 2FA; nothing is written."""
    root, other = make_user("root", admin=True), make_user("eve")
    alice, bob = make_user("alice"), make_user("bob")
    enrol(ctx, web, root.id)
    enrol(ctx, web, alice.id)
    before = dump()
    with pytest.raises(NotPermitted):
        bypass.issue_bypass_code(ctx, web, root.id, root.id, NOTE, step_up_at=ctx.now_dt())
    with pytest.raises(NotPermitted):
        bypass.issue_bypass_code(ctx, web, other.id, alice.id, NOTE, step_up_at=ctx.now_dt())
    with pytest.raises(NotPermitted):
        bypass.issue_bypass_code(ctx, web, None, alice.id, NOTE, step_up_at=ctx.now_dt())
    with pytest.raises(NotEnrolled):
        bypass.issue_bypass_code(ctx, web, root.id, bob.id, NOTE, step_up_at=ctx.now_dt())
    assert dump() == before


def test_not_for_a_deactivated_account(
    ctx: Context, web: Origin, cli: Origin, make_user: MakeUser
) -> None:
    """A deactivated account gets no bypass code."""
    from otpgate.service import users

    alice = make_user("alice")
    enrol(ctx, web, alice.id)
    users.deactivate_user(ctx, cli, None, alice.id)
    with pytest.raises(AccountDisabled):
        bypass.issue_bypass_code(ctx, cli, None, alice.id, NOTE)
