"""Login: the password step, codes (window, replay, drift, HOTP), recovery codes, devices."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select

from db_support import Dump
from otpgate.otp import Hotp, Totp
from otpgate.otp.secrets import b32decode
from otpgate.security.passwords import PasswordHasher
from otpgate.service import audit, devices, enrolment, login, recovery
from otpgate.service.context import Context, Origin
from otpgate.service.errors import (
    AccountDisabled,
    AuthenticationFailed,
    CodeRejected,
    NotEnrolled,
    RejectReason,
)
from otpgate.service.views import UserView
from otpgate.store import repositories as repo
from otpgate.store.db import transaction
from otpgate.store.models import OtpCredential, User

from .conftest import PASSWORD
from .twofa import clock_of, enrol, wrong_code

MakeUser = Callable[..., UserView]


def _kinds(ctx: Context) -> list[str]:
    return [e.kind for e in audit.query_audit(ctx, limit=1000)]


# --- password step -----------------------------------------------------------------------


def test_password_step_without_2fa(ctx: Context, web: Origin, make_user: MakeUser) -> None:
    """The right password of a user without 2FA needs no second factor."""
    make_user("alice")
    step = login.check_password(ctx, web, "Alice", PASSWORD)
    assert step.user.username == "alice"
    assert (step.needs_second_factor, step.must_enrol) == (False, False)
    assert audit.AuditKind.LOGIN_PASSWORD_OK in _kinds(ctx)


def test_password_step_with_2fa(ctx: Context, web: Origin, make_user: MakeUser) -> None:
    """Once an authenticator is active, the password step asks for the second factor."""
    user = make_user("alice")
    enrol(ctx, web, user.id)
    step = login.check_password(ctx, web, "alice", PASSWORD)
    assert step.needs_second_factor and step.user.has_2fa and not step.must_enrol


def test_wrong_password_and_unknown_user_look_the_same(
    ctx: Context, web: Origin, make_user: MakeUser
) -> None:
    """A wrong password and an unknown name raise the same error with the same message."""
    make_user("alice")
    with pytest.raises(AuthenticationFailed) as wrong:
        login.check_password(ctx, web, "alice", "not the password")
    with pytest.raises(AuthenticationFailed) as unknown:
        login.check_password(ctx, web, "nobody", "not the password")
    assert str(wrong.value) == str(unknown.value)
    assert _kinds(ctx).count(audit.AuditKind.LOGIN_PASSWORD_FAILED) == 2


def test_disabled_user_is_refused_only_with_the_right_password(
    ctx: Context, web: Origin, make_user: MakeUser
) -> None:
    """A deactivated account says so only to someone who knows its password."""
    user = make_user("alice")
    with transaction(ctx.session_factory) as s:
        s.get_one(User, user.id).is_active = False
    with pytest.raises(AccountDisabled):
        login.check_password(ctx, web, "alice", PASSWORD)
    with pytest.raises(AuthenticationFailed):
        login.check_password(ctx, web, "alice", "not the password")


def test_password_rehashed_when_parameters_change(
    ctx: Context, web: Origin, make_user: MakeUser
) -> None:
    """A login with the right password re-hashes it under new argon2 parameters."""
    user = make_user("alice")
    ctx.hasher = PasswordHasher(time_cost=2, memory_kib=16, parallelism=1)
    login.check_password(ctx, web, "alice", PASSWORD)
    with transaction(ctx.session_factory) as s:
        stored = s.get_one(User, user.id).password_hash
    assert not ctx.hasher.needs_rehash(stored)
    assert login.check_password(ctx, web, "alice", PASSWORD).user.id == user.id


@pytest.mark.parametrize(
    ("require_all", "require_admins", "admin", "expected"),
    [
        ("true", "false", False, True),
        ("false", "true", True, True),
        ("false", "true", False, False),
        ("false", "false", True, False),
    ],
)
def test_policy_sends_users_without_2fa_to_enrolment(
    ctx: Context,
    web: Origin,
    make_user: MakeUser,
    require_all: str,
    require_admins: str,
    admin: bool,
    expected: bool,
) -> None:
    """must_enrol follows the policy keys for everyone or for admins."""
    make_user("alice", admin=admin)
    with transaction(ctx.session_factory) as s:
        repo.set_setting(s, "policy.require_all", require_all)
        repo.set_setting(s, "policy.require_admins", require_admins)
    assert login.check_password(ctx, web, "alice", PASSWORD).must_enrol is expected


def test_step_up_returns_the_confirmation_time(
    ctx: Context, web: Origin, make_user: MakeUser
) -> None:
    """A step-up with the right password returns now; a wrong one is refused."""
    user = make_user("alice")
    assert login.verify_step_up(ctx, web, user.id, PASSWORD) == ctx.now_dt()
    with pytest.raises(AuthenticationFailed):
        login.verify_step_up(ctx, web, user.id, "wrong password")


# --- codes --------------------------------------------------------------------------------


def test_current_code_logs_in_once(ctx: Context, web: Origin, make_user: MakeUser) -> None:
    """The current code is accepted once; the same code again is a replay."""
    user = make_user("alice")
    phone = enrol(ctx, web, user.id)
    code = phone.code(ctx)
    result = login.verify_code(ctx, web, user.id, code)
    assert (result.method, result.credential_id) == ("totp", phone.credential_id)
    assert result.recovery_codes_left == 10
    with pytest.raises(CodeRejected) as again:
        login.verify_code(ctx, web, user.id, code)
    assert again.value.reason is RejectReason.REPLAYED
    assert audit.AuditKind.LOGIN_OK in _kinds(ctx)


def test_older_step_refused_after_newer_one(ctx: Context, web: Origin, make_user: MakeUser) -> None:
    """Once a step is accepted, the code of an older step in the window is a replay."""
    user = make_user("alice")
    phone = enrol(ctx, web, user.id)
    login.verify_code(ctx, web, user.id, phone.code(ctx, +1))
    with pytest.raises(CodeRejected) as older:
        login.verify_code(ctx, web, user.id, phone.code(ctx, 0))
    assert older.value.reason is RejectReason.REPLAYED


def test_confirming_code_cannot_log_in(ctx: Context, web: Origin, make_user: MakeUser) -> None:
    """The code typed to confirm the enrolment is already used for the login."""
    user = make_user("alice")
    pending = enrolment.begin_enrolment(ctx, web, user.id, step_up_at=ctx.now_dt())
    totp = Totp(b32decode(pending.secret_b32))
    code = totp.generate_at(ctx.clock.now())
    enrolment.confirm_enrolment(ctx, web, user.id, pending.credential_id, code, "Phone")
    with pytest.raises(CodeRejected) as replay:
        login.verify_code(ctx, web, user.id, code)
    assert replay.value.reason is RejectReason.REPLAYED


@pytest.mark.parametrize("offset", [-1, +1])
def test_window_accepts_one_step_either_side(
    ctx: Context, web: Origin, make_user: MakeUser, offset: int
) -> None:
    """A code one step behind or ahead is accepted by the default window."""
    user = make_user("alice")
    phone = enrol(ctx, web, user.id)
    clock_of(ctx).advance(60)
    assert login.verify_code(ctx, web, user.id, phone.code(ctx, offset)).method == "totp"


@pytest.mark.parametrize("offset", [-2, +2])
def test_window_refuses_two_steps_away(
    ctx: Context, web: Origin, make_user: MakeUser, offset: int
) -> None:
    """A code two steps away is wrong."""
    user = make_user("alice")
    phone = enrol(ctx, web, user.id)
    clock_of(ctx).advance(90)
    with pytest.raises(CodeRejected) as far:
        login.verify_code(ctx, web, user.id, phone.code(ctx, offset))
    assert far.value.reason is RejectReason.WRONG


def test_drift_of_a_clock_40_seconds_behind(ctx: Context, web: Origin, make_user: MakeUser) -> None:
    """A phone 40 s behind matches an earlier step; the negative drift is stored and shown."""
    user = make_user("alice")
    phone = enrol(ctx, web, user.id)
    clock_of(ctx).advance(120)
    now = ctx.clock.now()
    behind = phone.totp.generate_at(now - 40)
    offset = (phone.totp.step(now - 40) - phone.totp.step(now)) * 30
    assert offset in (-30, -60)
    if offset == -60:  # 40 s behind may cross two step boundaries; move into the window
        clock_of(ctx).advance(-10)
        behind = phone.totp.generate_at(ctx.clock.now() - 40)
    result = login.verify_code(ctx, web, user.id, behind)
    assert result.drift_seconds is not None and result.drift_seconds < 0
    [view] = enrolment.list_credentials(ctx, user.id)
    assert view.drift_seconds == result.drift_seconds
    assert view.last_used_at == ctx.now_dt()


def test_spaces_in_code_are_fine(ctx: Context, web: Origin, make_user: MakeUser) -> None:
    """A code typed as two groups of three digits is accepted."""
    user = make_user("alice")
    phone = enrol(ctx, web, user.id)
    code = phone.code(ctx)
    assert login.verify_code(ctx, web, user.id, f"{code[:3]} {code[3:]}").method == "totp"


@pytest.mark.parametrize("code", ["١٢٣٤٥٦", "12345", "1234567", "12a456", "", "x" * 10_000])
def test_malformed_codes_refused_without_trace(
    ctx: Context, web: Origin, make_user: MakeUser, dump: Callable[[], Dump], code: str
) -> None:
    """Malformed codes are MALFORMED, uncounted, and leave the database unchanged."""
    user = make_user("alice")
    enrol(ctx, web, user.id)
    before = dump()
    with pytest.raises(CodeRejected) as bad:
        login.verify_code(ctx, web, user.id, code)
    assert bad.value.reason is RejectReason.MALFORMED
    assert dump() == before


def test_no_authenticator_means_not_enrolled(
    ctx: Context, web: Origin, make_user: MakeUser
) -> None:
    """A user without an active authenticator cannot pass a code (pending ones do not count)."""
    user = make_user("alice")
    enrolment.begin_enrolment(ctx, web, user.id, step_up_at=ctx.now_dt())
    with pytest.raises(NotEnrolled):
        login.verify_code(ctx, web, user.id, "123456")


def test_any_of_several_authenticators(ctx: Context, web: Origin, make_user: MakeUser) -> None:
    """Codes of each active authenticator are accepted, and replay is per authenticator."""
    user = make_user("alice")
    phone = enrol(ctx, web, user.id, "Phone")
    backup = enrol(ctx, web, user.id, "Backup phone")
    assert login.verify_code(ctx, web, user.id, phone.code(ctx)).credential_id == (
        phone.credential_id
    )
    assert login.verify_code(ctx, web, user.id, backup.code(ctx)).credential_id == (
        backup.credential_id
    )
    names = [c.name for c in enrolment.list_credentials(ctx, user.id)]
    assert names == ["Phone", "Backup phone"]


def test_hotp_counter_advances_with_look_ahead(
    ctx: Context, web: Origin, make_user: MakeUser
) -> None:
    """HOTP: codes within the look-ahead resynchronise; used counters never work again."""
    user = make_user("alice")
    pending = enrolment.begin_enrolment(ctx, web, user.id, step_up_at=ctx.now_dt(), kind="hotp")
    assert pending.uri.startswith("otpauth://hotp/") and "counter=0" in pending.uri
    hotp = Hotp(b32decode(pending.secret_b32))
    enrolment.confirm_enrolment(ctx, web, user.id, pending.credential_id, hotp.generate(0), "Key")
    assert login.verify_code(ctx, web, user.id, hotp.generate(1)).method == "hotp"
    assert login.verify_code(ctx, web, user.id, hotp.generate(7)).method == "hotp"
    for n, used in enumerate((1, 5, 7, 8 + 11)):  # used ones, then beyond the look-ahead
        other = Origin("web", f"198.51.100.{n}")  # not to trip the per-address throttle
        with pytest.raises(CodeRejected):
            login.verify_code(ctx, other, user.id, hotp.generate(used))
    assert login.verify_code(ctx, web, user.id, hotp.generate(8 + 10)).method == "hotp"
    with transaction(ctx.session_factory) as s:
        assert s.scalar(select(OtpCredential.last_step)) == 18


def test_wrong_code_is_counted_and_audited(ctx: Context, web: Origin, make_user: MakeUser) -> None:
    """A wrong code is WRONG and leaves a login.code_failed row."""
    user = make_user("alice")
    phone = enrol(ctx, web, user.id)
    with pytest.raises(CodeRejected) as wrong:
        login.verify_code(ctx, web, user.id, wrong_code(phone.totp, ctx.clock.now(), 1))
    assert wrong.value.reason is RejectReason.WRONG
    assert audit.AuditKind.LOGIN_CODE_FAILED in _kinds(ctx)


# --- recovery codes -------------------------------------------------------------------------


def test_recovery_code_works_once(
    ctx: Context, web: Origin, make_user: MakeUser, dump: Callable[[], Dump]
) -> None:
    """A recovery code logs in once (any spelling); the second time changes nothing but
    the audit log (one login.code_replayed row)."""
    user = make_user("alice")
    phone = enrol(ctx, web, user.id)
    code = phone.recovery_codes[3]
    result = login.verify_recovery_code(ctx, web, user.id, code.upper().replace("-", " "))
    assert (result.method, result.recovery_codes_left) == ("recovery", 9)
    assert recovery.recovery_codes_left(ctx, user.id) == 9
    before = dump()
    with pytest.raises(CodeRejected) as reused:
        login.verify_recovery_code(ctx, web, user.id, code)
    assert reused.value.reason is RejectReason.REPLAYED
    after = dump()
    assert after["audit_events"][:-1] == before["audit_events"]
    assert {**after, "audit_events": []} == {**before, "audit_events": []}
    assert _kinds(ctx)[:2] == [audit.AuditKind.LOGIN_CODE_REPLAYED, audit.AuditKind.RECOVERY_USED]


def test_unknown_recovery_code_is_wrong(ctx: Context, web: Origin, make_user: MakeUser) -> None:
    """A well-formed code that was never issued is WRONG; a malformed one MALFORMED."""
    user = make_user("alice")
    enrol(ctx, web, user.id)
    with pytest.raises(CodeRejected) as wrong:
        login.verify_recovery_code(ctx, web, user.id, "aaaa-bbbb-cccc")
    assert wrong.value.reason is RejectReason.WRONG
    with pytest.raises(CodeRejected) as bad:
        login.verify_recovery_code(ctx, web, user.id, "not a code!")
    assert bad.value.reason is RejectReason.MALFORMED


def test_regenerated_codes_replace_old_ones(ctx: Context, web: Origin, make_user: MakeUser) -> None:
    """Regenerating issues a fresh set and the old codes stop working."""
    user = make_user("alice")
    phone = enrol(ctx, web, user.id)
    fresh = recovery.regenerate_recovery_codes(ctx, web, user.id, step_up_at=ctx.now_dt())
    assert len(set(fresh)) == 10 and not set(fresh) & set(phone.recovery_codes)
    with pytest.raises(CodeRejected):
        login.verify_recovery_code(ctx, web, user.id, phone.recovery_codes[0])
    assert login.verify_recovery_code(ctx, web, user.id, fresh[0]).recovery_codes_left == 9


# --- trusted devices ----------------------------------------------------------------------


def test_trusted_device_lifecycle(ctx: Context, web: Origin, make_user: MakeUser) -> None:
    """A trusted device is recognised, listed with its use, revocable, and expires."""
    user = make_user("alice")
    enrol(ctx, web, user.id)
    token = login.trust_device(ctx, web, user.id, "Firefox on Linux")
    assert login.check_trusted_device(ctx, web, user.id, token)
    assert not login.check_trusted_device(ctx, web, user.id, token + "x")
    assert not login.check_trusted_device(ctx, web, user.id, "")
    [view] = devices.list_devices(ctx, user.id)
    assert (view.name, view.last_used_at, view.client_addr) == (
        "Firefox on Linux",
        ctx.now_dt(),
        "203.0.113.7",
    )
    assert view.expires_at == ctx.now_dt() + timedelta(days=30)
    clock_of(ctx).advance(30 * 86400 + 1)
    assert not login.check_trusted_device(ctx, web, user.id, token)
    assert devices.list_devices(ctx, user.id) == []


def test_revoked_device_no_longer_trusted(ctx: Context, web: Origin, make_user: MakeUser) -> None:
    """Revoking a device makes its token useless; revoking it twice is NotFound."""
    from otpgate.service.errors import NotFound

    user = make_user("alice")
    enrol(ctx, web, user.id)
    token = login.trust_device(ctx, web, user.id, "Phone browser")
    [view] = devices.list_devices(ctx, user.id)
    devices.revoke_device(ctx, web, user.id, view.id)
    assert not login.check_trusted_device(ctx, web, user.id, token)
    with pytest.raises(NotFound):
        devices.revoke_device(ctx, web, user.id, view.id)
    kinds = _kinds(ctx)
    assert audit.AuditKind.DEVICE_TRUSTED in kinds and audit.AuditKind.DEVICE_REVOKED in kinds


def test_device_of_another_user_is_not_trusted(
    ctx: Context, web: Origin, make_user: MakeUser
) -> None:
    """A token is bound to the user it was issued to."""
    alice, bob = make_user("alice"), make_user("bob")
    enrol(ctx, web, alice.id)
    enrol(ctx, web, bob.id)
    token = login.trust_device(ctx, web, alice.id, "Laptop")
    assert not login.check_trusted_device(ctx, web, bob.id, token)


def test_trusting_needs_2fa(ctx: Context, web: Origin, make_user: MakeUser) -> None:
    """Without an authenticator there is no second factor to skip."""
    user = make_user("alice")
    with pytest.raises(NotEnrolled):
        login.trust_device(ctx, web, user.id, "Laptop")
