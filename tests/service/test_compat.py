"""App-compatibility check: a confirming code that only matches SHA1/6/30 is explained."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from db_support import Dump
from otpgate.otp import Hotp, Totp
from otpgate.otp.secrets import b32decode
from otpgate.service import enrolment
from otpgate.service.context import Context, Origin
from otpgate.service.errors import AppIgnoredSettings, CodeRejected, RejectReason
from otpgate.service.views import UserView

MakeUser = Callable[..., UserView]


@pytest.fixture
def strict(ctx: Context) -> Context:
    """The test context with an operator who asked for SHA256, 8 digits, 60 s."""
    settings = ctx.settings.with_overrides(otp_algorithm="SHA256", otp_digits=8, otp_period=60)
    return dataclasses.replace(ctx, settings=settings)


def test_an_app_that_ignored_the_settings_is_named(
    strict: Context, web: Origin, make_user: MakeUser, dump: Callable[[], Dump]
) -> None:
    """The standard code of the same secret is refused as AppIgnoredSettings, naming the
    settings and apps that honour them; nothing changes; the configured code then works."""
    user = make_user("alice")
    pending = enrolment.begin_enrolment(strict, web, user.id, step_up_at=strict.now_dt())
    assert "algorithm=SHA256" in pending.uri and "digits=8" in pending.uri
    secret = b32decode(pending.secret_b32)
    standard = Totp(secret).generate_at(strict.clock.now())
    before = dump()
    with pytest.raises(AppIgnoredSettings) as ignored:
        enrolment.confirm_enrolment(strict, web, user.id, pending.credential_id, standard, "A")
    message = str(ignored.value)
    assert "SHA256, 8 digits, 60 s" in message and "Aegis" in message
    assert "\n" not in message
    assert dump() == before
    right = Totp(secret, digits=8, algorithm="SHA256", period=60).generate_at(strict.clock.now())
    codes = enrolment.confirm_enrolment(strict, web, user.id, pending.credential_id, right, "A")
    assert len(codes) == 10
    [view] = enrolment.list_credentials(strict, user.id)
    assert (view.algorithm, view.digits, view.period) == ("SHA256", 8, 60)


def test_a_wrong_code_is_still_just_wrong(
    strict: Context, web: Origin, make_user: MakeUser
) -> None:
    """A code valid for neither parameter set is WRONG (8 digits) or MALFORMED (other)."""
    user = make_user("alice")
    pending = enrolment.begin_enrolment(strict, web, user.id, step_up_at=strict.now_dt())
    secret = b32decode(pending.secret_b32)
    totp = Totp(secret, digits=8, algorithm="SHA256", period=60)
    valid = {totp.generate_step(totp.step(strict.clock.now()) + d) for d in (-1, 0, 1)}
    wrong = next(f"{n:08d}" for n in range(10**8) if f"{n:08d}" not in valid)
    with pytest.raises(CodeRejected) as refused:
        enrolment.confirm_enrolment(strict, web, user.id, pending.credential_id, wrong, "A")
    assert refused.value.reason is RejectReason.WRONG
    with pytest.raises(CodeRejected) as bad:
        enrolment.confirm_enrolment(strict, web, user.id, pending.credential_id, "12ab", "A")
    assert bad.value.reason is RejectReason.MALFORMED


def test_hotp_with_non_default_parameters_is_checked_too(
    strict: Context, web: Origin, make_user: MakeUser
) -> None:
    """HOTP: the standard SHA1/6 code for counter 0 is recognised as the app's fault."""
    user = make_user("alice")
    pending = enrolment.begin_enrolment(
        strict, web, user.id, step_up_at=strict.now_dt(), kind="hotp"
    )
    standard = Hotp(b32decode(pending.secret_b32)).generate(0)
    with pytest.raises(AppIgnoredSettings) as ignored:
        enrolment.confirm_enrolment(strict, web, user.id, pending.credential_id, standard, "K")
    assert "SHA256, 8 digits" in str(ignored.value)


def test_default_settings_never_blame_the_app(
    ctx: Context, web: Origin, make_user: MakeUser
) -> None:
    """With SHA1/6/30 there is nothing an app could ignore: a wrong code is WRONG."""
    user = make_user("alice")
    pending = enrolment.begin_enrolment(ctx, web, user.id, step_up_at=ctx.now_dt())
    totp = Totp(b32decode(pending.secret_b32))
    valid = {totp.generate_step(totp.step(ctx.clock.now()) + d) for d in (-1, 0, 1)}
    wrong = next(f"{n:06d}" for n in range(10**6) if f"{n:06d}" not in valid)
    with pytest.raises(CodeRejected) as refused:
        enrolment.confirm_enrolment(ctx, web, user.id, pending.credential_id, wrong, "A")
    assert refused.value.reason is RejectReason.WRONG
