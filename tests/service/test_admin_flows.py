"""Admin use cases against the real login and enrolment: lost phone, lockout, key rotation."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from otpgate.otp.secrets import b32decode
from otpgate.otp.totp import Totp
from otpgate.security.secretbox import KeyRing
from otpgate.service import admin, enrolment, keys, login
from otpgate.service.context import Context, Origin
from otpgate.service.errors import AuthenticationFailed, CodeRejected, Locked, NotEnrolled
from otpgate.service.views import UserView

from .conftest import PASSWORD

MakeUser = Callable[..., UserView]
NOTE = "Video call, compared face with the ID photo on file."


def _enrol(ctx: Context, origin: Origin, user_id: int) -> tuple[Totp, list[str]]:
    """Turn 2FA on through the real flow; the authenticator and the recovery codes."""
    step_up = login.verify_step_up(ctx, origin, user_id, PASSWORD)
    pending = enrolment.begin_enrolment(ctx, origin, user_id, step_up_at=step_up)
    totp = Totp(b32decode(pending.secret_b32))
    codes = enrolment.confirm_enrolment(
        ctx, origin, user_id, pending.credential_id, totp.generate_at(ctx.clock.now()), "phone"
    )
    return totp, codes


def _next_step(ctx: Context) -> None:
    ctx.clock.advance(30)  # type: ignore[attr-defined]


def test_lost_phone_reset_removes_every_second_factor(
    ctx: Context, web: Origin, make_user: MakeUser
) -> None:
    """After a reset, codes, recovery codes and the trusted device no longer pass; password does."""
    boss = make_user("boss", admin=True)
    lea = make_user("lea")
    totp, codes = _enrol(ctx, web, lea.id)
    _next_step(ctx)
    login.verify_code(ctx, web, lea.id, totp.generate_at(ctx.clock.now()))
    device = login.trust_device(ctx, web, lea.id, "Firefox on Linux")
    assert login.check_trusted_device(ctx, web, lea.id, device)
    assert login.check_password(ctx, web, "lea", PASSWORD).needs_second_factor

    admin.reset_2fa(ctx, web, boss.id, lea.id, NOTE, step_up_at=ctx.now_dt())

    _next_step(ctx)
    with pytest.raises(NotEnrolled):
        login.verify_code(ctx, web, lea.id, totp.generate_at(ctx.clock.now()))
    with pytest.raises((CodeRejected, NotEnrolled)):
        login.verify_recovery_code(ctx, web, lea.id, codes[0])
    assert not login.check_trusted_device(ctx, web, lea.id, device)
    step = login.check_password(ctx, web, "lea", PASSWORD)
    assert (step.needs_second_factor, step.user.has_2fa) == (False, False)


def test_policy_sends_users_without_2fa_to_enrolment(
    ctx: Context, web: Origin, cli: Origin, make_user: MakeUser
) -> None:
    """With 2FA required for admins, an admin without it must enrol after the password step."""
    make_user("boss", admin=True)
    make_user("mo")
    admin.set_policy(ctx, cli, None, require_all=False, require_admins=True, issuer="ACME")
    assert login.check_password(ctx, web, "boss", PASSWORD).must_enrol
    assert not login.check_password(ctx, web, "mo", PASSWORD).must_enrol
    admin.set_policy(ctx, cli, None, require_all=True, require_admins=True, issuer="ACME")
    assert login.check_password(ctx, web, "mo", PASSWORD).must_enrol


def test_issuer_from_the_policy_is_used_for_new_authenticators(
    ctx: Context, web: Origin, cli: Origin, make_user: MakeUser
) -> None:
    """The issuer set by an admin is the one written in the otpauth URI."""
    nina = make_user("nina")
    admin.set_policy(ctx, cli, None, require_all=False, require_admins=False, issuer="ACME Ops")
    step_up = login.verify_step_up(ctx, web, nina.id, PASSWORD)
    pending = enrolment.begin_enrolment(ctx, web, nina.id, step_up_at=step_up)
    assert pending.issuer == "ACME Ops"
    assert "issuer=ACME%20Ops" in pending.uri


def test_unlock_lets_a_locked_out_user_in_again(
    ctx: Context, web: Origin, make_user: MakeUser
) -> None:
    """Guessing locks the account (lock_state shows it); after an unlock the right code works."""
    boss = make_user("boss", admin=True)
    omar = make_user("omar")
    totp, _ = _enrol(ctx, web, omar.id)
    wrong = "000000" if totp.generate_at(ctx.clock.now()) != "000000" else "111111"
    with pytest.raises(Locked):
        for _ in range(50):
            with pytest.raises(CodeRejected):
                login.verify_code(ctx, web, omar.id, wrong)
    until = admin.lock_state(ctx, omar.id)
    assert until is not None and until > ctx.now_dt()
    ctx.clock.advance(5)  # type: ignore[attr-defined]
    right_now = totp.generate_at(ctx.clock.now() + 30)
    with pytest.raises(Locked):
        login.verify_code(ctx, web, omar.id, right_now)

    admin.unlock_user(ctx, web, boss.id, omar.id)

    assert admin.lock_state(ctx, omar.id) is None
    _next_step(ctx)
    factor = login.verify_code(ctx, web, omar.id, totp.generate_at(ctx.clock.now()))
    assert factor.method == "totp"


def test_password_lockout_shows_in_lock_state(
    ctx: Context, web: Origin, cli: Origin, make_user: MakeUser
) -> None:
    """Failed passwords lock the account's password step, and the admin can lift it."""
    pia = make_user("pia")
    with pytest.raises(Locked):
        for _ in range(50):
            with pytest.raises(AuthenticationFailed):
                login.check_password(ctx, web, "pia", "not the password")
    assert admin.lock_state(ctx, pia.id) is not None
    admin.unlock_user(ctx, cli, None, pia.id)
    assert login.check_password(ctx, web, "pia", PASSWORD).user.id == pia.id


def test_rotation_keeps_real_enrolments_working(
    ctx: Context, web: Origin, cli: Origin, make_user: MakeUser
) -> None:
    """Authenticators enrolled under the old key accept codes with only the new key left."""
    old_ctx = dataclasses.replace(ctx, keyring=KeyRing([("k-old", bytes([1]) * 32)]))
    quinn = make_user("quinn")
    totp, _ = _enrol(old_ctx, web, quinn.id)
    both = dataclasses.replace(
        ctx, keyring=KeyRing([("k-new", bytes([2]) * 32), ("k-old", bytes([1]) * 32)])
    )
    assert keys.rotate_keys(both, cli) == 1
    new_only = dataclasses.replace(ctx, keyring=KeyRing([("k-new", bytes([2]) * 32)]))
    _next_step(new_only)
    factor = login.verify_code(new_only, web, quinn.id, totp.generate_at(new_only.clock.now()))
    assert factor.method == "totp"
