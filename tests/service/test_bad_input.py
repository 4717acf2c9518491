"""Bad input to the 2FA use cases raises the service's own errors and changes nothing."""

# Wrong argument types are the point of these tests.
# mypy: disable-error-code="arg-type"

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import pytest

from db_support import Dump
from otpgate.otp import Totp
from otpgate.otp.secrets import b32decode
from otpgate.service import audit, devices, enrolment, login, recovery
from otpgate.service.context import Context, Origin
from otpgate.service.errors import (
    AccountDisabled,
    AlreadyEnrolled,
    CodeRejected,
    EnrolmentExpired,
    InvalidInput,
    NotFound,
    ServiceError,
    StepUpRequired,
)
from otpgate.service.views import UserView
from otpgate.store.db import transaction
from otpgate.store.models import User

from .conftest import PASSWORD
from .twofa import Enrolled, clock_of, enrol

MakeUser = Callable[..., UserView]
HUGE = "9" * 10_000


@dataclass
class World:
    """Alice has 2FA, a used recovery code and an expired pending enrolment; Bob is disabled."""

    alice: int
    bob: int
    phone: Enrolled
    expired_pending: int
    expired_code: str


@pytest.fixture
def world(ctx: Context, web: Origin, make_user: MakeUser) -> World:
    """Users and credentials the bad calls are aimed at."""
    alice, bob = make_user("alice"), make_user("bob")
    phone = enrol(ctx, web, alice.id)
    enrol(ctx, web, bob.id)
    pending = enrolment.begin_enrolment(ctx, web, alice.id, step_up_at=ctx.now_dt())
    clock_of(ctx).advance(ctx.settings.pending_enrolment_seconds + 1)
    expired_code = Totp(b32decode(pending.secret_b32)).generate_at(ctx.clock.now())
    with transaction(ctx.session_factory) as s:
        s.get_one(User, bob.id).is_active = False
    return World(alice.id, bob.id, phone, pending.credential_id, expired_code)


Call = Callable[[Context, Origin, World], object]

CASES: dict[str, tuple[Call, type[ServiceError]]] = {
    "code for a user id given as text": (
        lambda c, o, w: login.verify_code(c, o, str(w.alice), "123456"),
        InvalidInput,
    ),
    "code for a user id True": (
        lambda c, o, w: login.verify_code(c, o, True, "123456"),
        InvalidInput,
    ),
    "code for an unknown user": (
        lambda c, o, w: login.verify_code(c, o, 987654, "123456"),
        NotFound,
    ),
    "code for a disabled user": (
        lambda c, o, w: login.verify_code(c, o, w.bob, "123456"),
        AccountDisabled,
    ),
    "code as an int": (lambda c, o, w: login.verify_code(c, o, w.alice, 123456), InvalidInput),
    "code as None": (lambda c, o, w: login.verify_code(c, o, w.alice, None), InvalidInput),
    "code of 10 kB": (lambda c, o, w: login.verify_code(c, o, w.alice, HUGE), CodeRejected),
    "code in Arabic-Indic digits": (
        lambda c, o, w: login.verify_code(c, o, w.alice, "١٢٣٤٥٦"),
        CodeRejected,
    ),
    "recovery code as bytes": (
        lambda c, o, w: login.verify_recovery_code(c, o, w.alice, b"abcd-efgh-ijkm"),
        InvalidInput,
    ),
    "recovery code of 10 kB": (
        lambda c, o, w: login.verify_recovery_code(c, o, w.alice, HUGE),
        CodeRejected,
    ),
    "recovery code of a disabled user": (
        lambda c, o, w: login.verify_recovery_code(c, o, w.bob, "abcd-efgh-ijkm"),
        AccountDisabled,
    ),
    "username as an int": (lambda c, o, w: login.check_password(c, o, 42, PASSWORD), InvalidInput),
    "username of 10 kB": (lambda c, o, w: login.check_password(c, o, HUGE, PASSWORD), InvalidInput),
    "password of 10 kB": (lambda c, o, w: login.check_password(c, o, "alice", HUGE), InvalidInput),
    "password as None": (lambda c, o, w: login.check_password(c, o, "alice", None), InvalidInput),
    "right password of a disabled user": (
        lambda c, o, w: login.check_password(c, o, "bob", PASSWORD),
        AccountDisabled,
    ),
    "step-up password of 10 kB": (
        lambda c, o, w: login.verify_step_up(c, o, w.alice, HUGE),
        InvalidInput,
    ),
    "step-up as text": (
        lambda c, o, w: enrolment.begin_enrolment(c, o, w.alice, step_up_at="now"),
        InvalidInput,
    ),
    "step-up as a naive datetime": (
        lambda c, o, w: enrolment.begin_enrolment(c, o, w.alice, step_up_at=datetime(2023, 11, 14)),
        InvalidInput,
    ),
    "enrolment for an unknown user": (
        lambda c, o, w: enrolment.begin_enrolment(c, o, 987654, step_up_at=c.now_dt()),
        NotFound,
    ),
    "enrolment for a disabled user": (
        lambda c, o, w: enrolment.begin_enrolment(c, o, w.bob, step_up_at=c.now_dt()),
        AccountDisabled,
    ),
    "expired pending enrolment": (
        lambda c, o, w: enrolment.confirm_enrolment(
            c, o, w.alice, w.expired_pending, w.expired_code, "Phone"
        ),
        EnrolmentExpired,
    ),
    "confirming an active authenticator": (
        lambda c, o, w: enrolment.confirm_enrolment(
            c, o, w.alice, w.phone.credential_id, w.phone.code(c), "Phone"
        ),
        AlreadyEnrolled,
    ),
    "credential id as text": (
        lambda c, o, w: enrolment.confirm_enrolment(c, o, w.alice, "1", "123456", "Phone"),
        InvalidInput,
    ),
    "authenticator name of 10 kB": (
        lambda c, o, w: enrolment.confirm_enrolment(
            c, o, w.alice, w.expired_pending, "123456", HUGE
        ),
        InvalidInput,
    ),
    "removing an unknown authenticator": (
        lambda c, o, w: enrolment.remove_credential(c, o, w.alice, 987654, step_up_at=c.now_dt()),
        NotFound,
    ),
    "removing without step-up": (
        lambda c, o, w: enrolment.remove_credential(
            c, o, w.alice, w.phone.credential_id, step_up_at=None
        ),
        StepUpRequired,
    ),
    "disabling with a 10 kB password": (
        lambda c, o, w: enrolment.disable_2fa(c, o, w.alice, HUGE, "123456"),
        InvalidInput,
    ),
    "disabling with a code as None": (
        lambda c, o, w: enrolment.disable_2fa(c, o, w.alice, PASSWORD, None),
        InvalidInput,
    ),
    "regenerating codes without step-up": (
        lambda c, o, w: recovery.regenerate_recovery_codes(c, o, w.alice, step_up_at=None),
        StepUpRequired,
    ),
    "device token as an int": (
        lambda c, o, w: login.check_trusted_device(c, o, w.alice, 12345),
        InvalidInput,
    ),
    "device name as an int": (lambda c, o, w: login.trust_device(c, o, w.alice, 5), InvalidInput),
    "revoking device -1": (lambda c, o, w: devices.revoke_device(c, o, w.alice, -1), InvalidInput),
    "revoking an unknown device": (
        lambda c, o, w: devices.revoke_device(c, o, w.alice, 987654),
        NotFound,
    ),
    "audit of an unknown kind": (lambda c, o, w: audit.query_audit(c, kind="nope"), InvalidInput),
    "audit with limit 0": (lambda c, o, w: audit.query_audit(c, limit=0), InvalidInput),
    "audit of an unknown user": (
        lambda c, o, w: audit.query_audit(c, username="nobody"),
        NotFound,
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_raises_and_changes_nothing(
    ctx: Context, web: Origin, world: World, dump: Callable[[], Dump], case: str
) -> None:
    """Each bad call raises the expected service error and the database stays as it was."""
    call, expected = CASES[case]
    before = dump()
    with pytest.raises(expected) as raised:
        call(ctx, web, world)
    assert isinstance(raised.value, ServiceError)
    assert "\n" not in str(raised.value) and str(raised.value)
    assert dump() == before


def test_huge_device_token_is_simply_not_trusted(
    ctx: Context, web: Origin, world: World, dump: Callable[[], Dump]
) -> None:
    """A 10 kB cookie value is not a trusted device, and nothing is written."""
    before = dump()
    assert login.check_trusted_device(ctx, web, world.alice, HUGE) is False
    assert dump() == before
