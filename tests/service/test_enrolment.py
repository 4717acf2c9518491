"""Enrolment: begin (step-up, pending secret, URI, QR), confirm, disable, remove, list."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from db_support import Dump
from otpgate.otp import Totp, parse_uri
from otpgate.otp.secrets import b32decode
from otpgate.service import audit, enrolment, login
from otpgate.service.context import Context, Origin
from otpgate.service.errors import (
    AlreadyEnrolled,
    AuthenticationFailed,
    CodeRejected,
    EnrolmentExpired,
    InvalidInput,
    NotEnrolled,
    NotFound,
    RejectReason,
    StepUpRequired,
)
from otpgate.service.views import UserView
from otpgate.store import repositories as repo
from otpgate.store.db import transaction
from otpgate.store.models import OtpCredential, RecoveryCode, TrustedDevice

from .conftest import PASSWORD
from .twofa import clock_of, enrol, wrong_code

MakeUser = Callable[..., UserView]


def _kinds(ctx: Context) -> list[str]:
    return [e.kind for e in audit.query_audit(ctx, limit=1000)]


def _count(ctx: Context, model: type[OtpCredential | RecoveryCode | TrustedDevice]) -> int:
    with transaction(ctx.session_factory) as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_begin_needs_a_fresh_step_up(ctx: Context, web: Origin, make_user: MakeUser) -> None:
    """No step-up, or one older than step_up_seconds, is StepUpRequired."""
    user = make_user("alice")
    with pytest.raises(StepUpRequired):
        enrolment.begin_enrolment(ctx, web, user.id, step_up_at=None)
    stale = ctx.now_dt() - timedelta(seconds=ctx.settings.step_up_seconds + 1)
    with pytest.raises(StepUpRequired):
        enrolment.begin_enrolment(ctx, web, user.id, step_up_at=stale)
    fresh = ctx.now_dt() - timedelta(seconds=ctx.settings.step_up_seconds - 1)
    assert enrolment.begin_enrolment(ctx, web, user.id, step_up_at=fresh).kind == "totp"


def test_pending_enrolment_shows_what_apps_need(
    ctx: Context, web: Origin, make_user: MakeUser
) -> None:
    """The pending enrolment has a 160-bit secret, a standard URI and an inline SVG QR code."""
    user = make_user("alice")
    pending = enrolment.begin_enrolment(ctx, web, user.id, step_up_at=ctx.now_dt())
    assert len(b32decode(pending.secret_b32)) == 20 and "=" not in pending.secret_b32
    assert pending.secret_grouped.replace(" ", "") == pending.secret_b32
    parsed = parse_uri(pending.uri)
    assert (parsed.kind, parsed.issuer, parsed.account) == ("totp", "otpgate", "alice")
    assert (parsed.algorithm, parsed.digits, parsed.period) == ("SHA1", 6, 30)
    assert parsed.secret == b32decode(pending.secret_b32)
    assert pending.qr_svg.lstrip().startswith("<svg")
    assert pending.expires_at == ctx.now_dt() + timedelta(seconds=600)
    assert pending.secret_b32 not in repr(pending)


def test_issuer_comes_from_the_policy(ctx: Context, web: Origin, make_user: MakeUser) -> None:
    """An issuer set at run time is used in new URIs."""
    user = make_user("alice")
    with transaction(ctx.session_factory) as s:
        repo.set_setting(s, "issuer", "ACME Portal")
    pending = enrolment.begin_enrolment(ctx, web, user.id, step_up_at=ctx.now_dt())
    assert pending.issuer == "ACME Portal" and parse_uri(pending.uri).issuer == "ACME Portal"


def test_first_confirmation_enables_2fa_with_recovery_codes(
    ctx: Context, web: Origin, make_user: MakeUser
) -> None:
    """The first authenticator turns 2FA on and returns 10 distinct recovery codes, once."""
    user = make_user("alice")
    phone = enrol(ctx, web, user.id, "  My   phone ")
    assert len(set(phone.recovery_codes)) == ctx.settings.recovery_code_count == 10
    [view] = enrolment.list_credentials(ctx, user.id)
    assert (view.id, view.name, view.kind) == (phone.credential_id, "My phone", "totp")
    assert view.confirmed_at is not None and view.last_used_at is None
    assert audit.AuditKind.TWOFA_ENABLED in _kinds(ctx)
    second = enrol(ctx, web, user.id, "Backup")
    assert second.recovery_codes == []
    assert audit.AuditKind.AUTHENTICATOR_ADDED in _kinds(ctx)
    assert _count(ctx, RecoveryCode) == 10


def test_wrong_confirmation_changes_nothing(
    ctx: Context, web: Origin, make_user: MakeUser, dump: Callable[[], Dump]
) -> None:
    """A wrong confirming code is WRONG and the pending enrolment stays pending."""
    user = make_user("alice")
    pending = enrolment.begin_enrolment(ctx, web, user.id, step_up_at=ctx.now_dt())
    totp = Totp(b32decode(pending.secret_b32))
    before = dump()
    with pytest.raises(CodeRejected) as wrong:
        enrolment.confirm_enrolment(
            ctx, web, user.id, pending.credential_id, wrong_code(totp, ctx.clock.now(), 0), "P"
        )
    assert wrong.value.reason is RejectReason.WRONG
    assert dump() == before


def test_expired_pending_enrolment(
    ctx: Context, web: Origin, make_user: MakeUser, dump: Callable[[], Dump]
) -> None:
    """After pending_enrolment_seconds the enrolment is expired and nothing changes."""
    user = make_user("alice")
    pending = enrolment.begin_enrolment(ctx, web, user.id, step_up_at=ctx.now_dt())
    clock_of(ctx).advance(ctx.settings.pending_enrolment_seconds)
    code = Totp(b32decode(pending.secret_b32)).generate_at(ctx.clock.now())
    before = dump()
    with pytest.raises(EnrolmentExpired):
        enrolment.confirm_enrolment(ctx, web, user.id, pending.credential_id, code, "Phone")
    assert dump() == before
    # The next enrolment purges it.
    enrolment.begin_enrolment(ctx, web, user.id, step_up_at=ctx.now_dt())
    assert _count(ctx, OtpCredential) == 1


def test_new_begin_replaces_the_previous_pending_one(
    ctx: Context, web: Origin, make_user: MakeUser
) -> None:
    """A user has at most one pending enrolment."""
    user = make_user("alice")
    first = enrolment.begin_enrolment(ctx, web, user.id, step_up_at=ctx.now_dt())
    enrolment.begin_enrolment(ctx, web, user.id, step_up_at=ctx.now_dt())
    assert _count(ctx, OtpCredential) == 1
    code = Totp(b32decode(first.secret_b32)).generate_at(ctx.clock.now())
    # SQLite may give the new row the old id: either way the old secret is useless.
    with pytest.raises((NotFound, CodeRejected)):
        enrolment.confirm_enrolment(ctx, web, user.id, first.credential_id, code, "Phone")


def test_confirm_twice_or_for_someone_else(ctx: Context, web: Origin, make_user: MakeUser) -> None:
    """Confirming an active credential is AlreadyEnrolled; another user's is NotFound."""
    alice, bob = make_user("alice"), make_user("bob")
    phone = enrol(ctx, web, alice.id)
    with pytest.raises(AlreadyEnrolled):
        enrolment.confirm_enrolment(ctx, web, alice.id, phone.credential_id, phone.code(ctx), "X")
    pending = enrolment.begin_enrolment(ctx, web, alice.id, step_up_at=ctx.now_dt())
    code = Totp(b32decode(pending.secret_b32)).generate_at(ctx.clock.now())
    with pytest.raises(NotFound):
        enrolment.confirm_enrolment(ctx, web, bob.id, pending.credential_id, code, "X")


def test_disable_needs_password_and_code(ctx: Context, web: Origin, make_user: MakeUser) -> None:
    """Disabling with a wrong password or code fails; with both it removes everything."""
    user = make_user("alice")
    phone = enrol(ctx, web, user.id)
    login.trust_device(ctx, web, user.id, "Laptop")
    with pytest.raises(AuthenticationFailed):
        enrolment.disable_2fa(ctx, web, user.id, "wrong password", phone.code(ctx))
    with pytest.raises(CodeRejected):
        enrolment.disable_2fa(
            ctx, web, user.id, PASSWORD, wrong_code(phone.totp, ctx.clock.now(), 3)
        )
    assert login.check_password(ctx, web, "alice", PASSWORD).needs_second_factor
    enrolment.disable_2fa(ctx, web, user.id, PASSWORD, phone.code(ctx))
    assert (_count(ctx, OtpCredential), _count(ctx, RecoveryCode)) == (0, 0)
    with transaction(ctx.session_factory) as s:
        assert all(d.revoked_at is not None for d in s.scalars(select(TrustedDevice)))
    assert not login.check_password(ctx, web, "alice", PASSWORD).needs_second_factor
    assert audit.AuditKind.TWOFA_DISABLED in _kinds(ctx)
    with pytest.raises(NotEnrolled):
        enrolment.disable_2fa(ctx, web, user.id, PASSWORD, "123456")


def test_remove_one_of_two_then_the_last(ctx: Context, web: Origin, make_user: MakeUser) -> None:
    """Removing one authenticator (with a code of another) keeps 2FA on; removing the last
    needs the password and a code, and turns it off."""
    user = make_user("alice")
    phone = enrol(ctx, web, user.id, "Phone")
    backup = enrol(ctx, web, user.id, "Backup")
    with pytest.raises(StepUpRequired):
        enrolment.remove_credential(ctx, web, user.id, phone.credential_id, step_up_at=None)
    enrolment.remove_credential(
        ctx, web, user.id, phone.credential_id, step_up_at=ctx.now_dt(), code=backup.code(ctx)
    )
    assert [c.name for c in enrolment.list_credentials(ctx, user.id)] == ["Backup"]
    with pytest.raises(CodeRejected):
        login.verify_code(ctx, web, user.id, phone.code(ctx))
    clock_of(ctx).advance(30)
    assert login.verify_code(ctx, web, user.id, backup.code(ctx)).method == "totp"
    assert _count(ctx, RecoveryCode) == 10
    with pytest.raises(NotFound):
        enrolment.remove_credential(ctx, web, user.id, phone.credential_id, step_up_at=ctx.now_dt())
    clock_of(ctx).advance(30)
    enrolment.remove_credential(
        ctx, web, user.id, backup.credential_id, step_up_at=None,
        password=PASSWORD, code=backup.code(ctx),
    )
    assert (_count(ctx, OtpCredential), _count(ctx, RecoveryCode)) == (0, 0)
    kinds = _kinds(ctx)
    assert audit.AuditKind.AUTHENTICATOR_REMOVED in kinds
    assert audit.AuditKind.TWOFA_DISABLED in kinds


@pytest.mark.parametrize(
    ("kind", "name"), [("sms", ""), ("totp", 42), ("totp", "x" * 101), (None, "")]
)
def test_begin_refuses_bad_kind_or_name(
    ctx: Context, web: Origin, make_user: MakeUser, kind: Any, name: Any
) -> None:
    """Unknown kinds and bad names are InvalidInput."""
    user = make_user("alice")
    with pytest.raises(InvalidInput):
        enrolment.begin_enrolment(
            ctx,
            web,
            user.id,
            step_up_at=ctx.now_dt(),
            kind=kind,
            name=name,
        )
