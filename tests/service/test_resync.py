"""HOTP counter resynchronisation with two consecutive codes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from db_support import Dump
from otpgate.otp import Hotp
from otpgate.otp.secrets import b32decode
from otpgate.service import audit, enrolment, login
from otpgate.service.context import Context, Origin
from otpgate.service.errors import CodeRejected, Locked, NotEnrolled, NotFound, RejectReason
from otpgate.service.resync import resync_hotp
from otpgate.service.views import UserView

from .twofa import enrol

MakeUser = Callable[..., UserView]


def _hotp_user(ctx: Context, web: Origin, user: UserView) -> tuple[int, Hotp]:
    pending = enrolment.begin_enrolment(ctx, web, user.id, step_up_at=ctx.now_dt(), kind="hotp")
    hotp = Hotp(b32decode(pending.secret_b32))
    enrolment.confirm_enrolment(ctx, web, user.id, pending.credential_id, hotp.generate(0), "Key")
    return pending.credential_id, hotp


def test_two_consecutive_codes_bring_the_counter_back(
    ctx: Context, web: Origin, make_user: MakeUser
) -> None:
    """Past the look-ahead a code is refused; two consecutive codes resync (audited) and
    count as a second factor; neither code nor any older one works again."""
    user = make_user("alice")
    cred_id, hotp = _hotp_user(ctx, web, user)
    with pytest.raises(CodeRejected):
        login.verify_code(ctx, web, user.id, hotp.generate(50))
    factor = resync_hotp(ctx, web, user.id, hotp.generate(60), hotp.generate(61))
    assert (factor.method, factor.credential_id) == ("hotp", cred_id)
    event = audit.query_audit(ctx, kind="hotp.resynced")[0]
    assert event.detail["skipped"] == 59
    for n, used in enumerate((60, 61, 55)):
        with pytest.raises(CodeRejected):
            login.verify_code(ctx, Origin("web", f"198.51.100.{n}"), user.id, hotp.generate(used))
    assert login.verify_code(ctx, web, user.id, hotp.generate(62)).method == "hotp"


def test_codes_that_are_not_consecutive_are_refused_and_counted(
    ctx: Context, web: Origin, make_user: MakeUser, dump: Callable[[], Dump]
) -> None:
    """Two valid but not consecutive codes, or reversed ones, are WRONG (counted, audited);
    a malformed pair changes nothing."""
    user = make_user("alice")
    _, hotp = _hotp_user(ctx, web, user)
    with pytest.raises(CodeRejected) as apart:
        resync_hotp(ctx, web, user.id, hotp.generate(30), hotp.generate(32))
    assert apart.value.reason is RejectReason.WRONG
    with pytest.raises(CodeRejected):
        resync_hotp(ctx, web, user.id, hotp.generate(31), hotp.generate(30))
    assert len(audit.query_audit(ctx, kind="login.code_failed")) == 2
    before = dump()
    with pytest.raises(CodeRejected) as bad:
        resync_hotp(ctx, web, user.id, "12345", "abcdef")
    assert bad.value.reason is RejectReason.MALFORMED
    assert dump() == before


def test_resync_is_throttled_like_a_code(ctx: Context, web: Origin, make_user: MakeUser) -> None:
    """After the pair's free failures, even a right pair is refused while locked."""
    user = make_user("alice")
    _, hotp = _hotp_user(ctx, web, user)
    for n in range(3):
        with pytest.raises(CodeRejected):
            resync_hotp(ctx, web, user.id, hotp.generate(10 + n), hotp.generate(20 + n))
    with pytest.raises(Locked):
        resync_hotp(ctx, web, user.id, hotp.generate(40), hotp.generate(41))


def test_beyond_the_window_and_without_hotp(
    ctx: Context, web: Origin, make_user: MakeUser
) -> None:
    """Codes past ``hotp_resync_window`` are not found; a TOTP-only user has nothing to
    resync; another user's credential id is not found."""
    alice, bob = make_user("alice"), make_user("bob")
    cred_id, hotp = _hotp_user(ctx, web, alice)
    far = ctx.settings.hotp_resync_window + 5
    with pytest.raises(CodeRejected):
        resync_hotp(ctx, web, alice.id, hotp.generate(far), hotp.generate(far + 1))
    enrol(ctx, web, bob.id)
    with pytest.raises(NotEnrolled):
        resync_hotp(ctx, web, bob.id, "123456", "234567")
    with pytest.raises(NotFound):
        resync_hotp(ctx, web, bob.id, "123456", "234567", credential_id=cred_id)
