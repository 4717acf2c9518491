"""Several named authenticators: per-authenticator replay, rename, removal rules, drift."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from db_support import Dump
from otpgate.service import audit, enrolment, login, recovery
from otpgate.service.context import Context, Origin
from otpgate.service.errors import (
    AuthenticationFailed,
    CodeRejected,
    InvalidInput,
    LastAuthenticator,
    NotEnrolled,
    NotFound,
    RejectReason,
    StepUpRequired,
)
from otpgate.service.resync import clock_drift
from otpgate.service.views import UserView

from .conftest import PASSWORD
from .twofa import clock_of, enrol, wrong_code

MakeUser = Callable[..., UserView]


def _kinds(ctx: Context) -> list[str]:
    return [e.kind for e in audit.query_audit(ctx, limit=1000)]


def test_each_authenticator_has_its_own_replay_guard(
    ctx: Context, web: Origin, make_user: MakeUser
) -> None:
    """In one time step, the phone's and the backup's codes each log in once, never twice."""
    user = make_user("alice")
    phone = enrol(ctx, web, user.id, "Phone")
    backup = enrol(ctx, web, user.id, "Backup phone")
    first = login.verify_code(ctx, web, user.id, phone.code(ctx))
    second = login.verify_code(ctx, web, user.id, backup.code(ctx))
    assert (first.credential_id, second.credential_id) == (
        phone.credential_id,
        backup.credential_id,
    )
    for used in (phone.code(ctx), backup.code(ctx)):
        with pytest.raises(CodeRejected) as again:
            login.verify_code(ctx, web, user.id, used)
        assert again.value.reason is RejectReason.REPLAYED


def test_rename_is_audited_and_checked(
    ctx: Context, web: Origin, make_user: MakeUser, dump: Callable[[], Dump]
) -> None:
    """A rename changes only the name, is audited, and refuses empty names and others' ids."""
    alice, bob = make_user("alice"), make_user("bob")
    phone = enrol(ctx, web, alice.id, "Phone")
    view = enrolment.rename_credential(ctx, web, alice.id, phone.credential_id, "  Work   phone ")
    assert view.name == "Work phone"
    assert [c.name for c in enrolment.list_credentials(ctx, alice.id)] == ["Work phone"]
    event = audit.query_audit(ctx, kind="authenticator.renamed")[0]
    assert event.detail == {"credential_id": phone.credential_id, "old": "Phone",
                            "name": "Work phone"}
    before = dump()
    with pytest.raises(InvalidInput):
        enrolment.rename_credential(ctx, web, alice.id, phone.credential_id, "   ")
    with pytest.raises(NotFound):
        enrolment.rename_credential(ctx, web, bob.id, phone.credential_id, "Mine now")
    assert dump() == before


def test_removing_one_needs_a_code_of_another(
    ctx: Context, web: Origin, make_user: MakeUser, dump: Callable[[], Dump]
) -> None:
    """A code of the authenticator being removed is not proof: nothing changes, the code
    stays unused; a code of the other one removes it."""
    user = make_user("alice")
    lost = enrol(ctx, web, user.id, "Lost phone")
    backup = enrol(ctx, web, user.id, "Backup")
    now = ctx.now_dt()
    before = dump()
    with pytest.raises(InvalidInput):
        enrolment.remove_credential(ctx, web, user.id, lost.credential_id, step_up_at=now)
    with pytest.raises(CodeRejected):
        enrolment.remove_credential(
            ctx, web, user.id, lost.credential_id, step_up_at=now, code=lost.code(ctx)
        )
    assert dump() == before
    enrolment.remove_credential(
        ctx, web, user.id, lost.credential_id, step_up_at=now, code=backup.code(ctx)
    )
    assert [c.name for c in enrolment.list_credentials(ctx, user.id)] == ["Backup"]
    removed = audit.query_audit(ctx, kind="authenticator.removed")[0]
    assert removed.detail["proof"] == backup.credential_id
    assert recovery.recovery_codes_left(ctx, user.id) == 10


def test_removing_the_last_one_has_the_checks_of_disable(
    ctx: Context, web: Origin, make_user: MakeUser, dump: Callable[[], Dump]
) -> None:
    """The last authenticator goes only with password and code, and 2FA is then off."""
    user = make_user("alice")
    phone = enrol(ctx, web, user.id, "Phone")
    before = dump()
    with pytest.raises(LastAuthenticator):
        enrolment.remove_credential(
            ctx, web, user.id, phone.credential_id, step_up_at=ctx.now_dt(), code=phone.code(ctx)
        )
    with pytest.raises(StepUpRequired):
        enrolment.remove_credential(ctx, web, user.id, phone.credential_id, step_up_at=None)
    assert dump() == before
    with pytest.raises(AuthenticationFailed):
        enrolment.remove_credential(
            ctx, web, user.id, phone.credential_id, step_up_at=None,
            password="not the password", code=phone.code(ctx),
        )
    with pytest.raises(CodeRejected):
        enrolment.remove_credential(
            ctx, web, user.id, phone.credential_id, step_up_at=None,
            password=PASSWORD, code=wrong_code(phone.totp, ctx.clock.now(), 5),
        )
    enrolment.remove_credential(
        ctx, web, user.id, phone.credential_id, step_up_at=None,
        password=PASSWORD, code=phone.code(ctx),
    )
    assert enrolment.list_credentials(ctx, user.id) == []
    assert not login.check_password(ctx, web, "alice", PASSWORD).needs_second_factor
    disabled = audit.query_audit(ctx, kind="2fa.disabled")[0]
    assert disabled.detail["via"] == "remove_last"
    with pytest.raises(NotEnrolled):
        recovery.regenerate_recovery_codes(ctx, web, user.id, step_up_at=ctx.now_dt())


def _to_step_middle(ctx: Context) -> None:
    """Put the clock 15 s into a step: 40 s behind is then exactly one step back."""
    clock = clock_of(ctx)
    clock.set(clock.now() - clock.now() % 30 + 15)


def test_a_phone_40_seconds_behind_is_accepted_and_reported(
    ctx: Context, web: Origin, make_user: MakeUser
) -> None:
    """Codes 40 s behind log in (window of one step); after two, the moving average is past
    half a period and the drift is reported as behind; codes two steps off are refused."""
    user = make_user("alice")
    phone = enrol(ctx, web, user.id, "Phone")
    for _ in range(2):
        clock_of(ctx).advance(30)
        _to_step_middle(ctx)
        behind = phone.totp.generate_at(ctx.clock.now() - 40)
        assert behind == phone.code(ctx, -1)
        assert login.verify_code(ctx, web, user.id, behind).method == "totp"
    [view] = enrolment.list_credentials(ctx, user.id)
    assert view.drift_seconds == pytest.approx(-22.5)
    drift = clock_drift(view)
    assert drift is not None and drift < 0
    clock_of(ctx).advance(30)
    for steps in (-2, 2):
        with pytest.raises(CodeRejected) as refused:
            login.verify_code(ctx, web, user.id, phone.code(ctx, steps))
        assert refused.value.reason is RejectReason.WRONG


def test_a_small_drift_is_not_reported(ctx: Context, web: Origin, make_user: MakeUser) -> None:
    """One login one step ahead averages to 15 s: within half a period, nothing to say."""
    user = make_user("alice")
    phone = enrol(ctx, web, user.id, "Phone")
    login.verify_code(ctx, web, user.id, phone.code(ctx, 1))
    [view] = enrolment.list_credentials(ctx, user.id)
    assert view.drift_seconds == pytest.approx(15.0)
    assert clock_drift(view) is None


def test_regenerating_recovery_codes_invalidates_every_old_one(
    ctx: Context, web: Origin, make_user: MakeUser
) -> None:
    """After regeneration no old code works, used or not, and the count is the new set's."""
    user = make_user("alice")
    phone = enrol(ctx, web, user.id)
    login.verify_recovery_code(ctx, web, user.id, phone.recovery_codes[0])
    assert recovery.recovery_codes_left(ctx, user.id) == 9
    fresh = recovery.regenerate_recovery_codes(ctx, web, user.id, step_up_at=ctx.now_dt())
    assert recovery.recovery_codes_left(ctx, user.id) == len(fresh) == 10
    for n, old in enumerate(phone.recovery_codes[:4]):
        with pytest.raises(CodeRejected):
            login.verify_recovery_code(ctx, Origin("web", f"198.51.100.{n}"), user.id, old)
    assert audit.AuditKind.RECOVERY_REGENERATED in _kinds(ctx)
