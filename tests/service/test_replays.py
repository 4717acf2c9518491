"""Replays: a code that was the user's own and is used up (TOTP/HOTP step, recovery code,
scratch code) is ``REPLAYED`` every time, never counted, and audited in its own
transaction while the check's own transaction leaves the data as it was."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from db_support import Dump
from otpgate.otp import Hotp
from otpgate.otp.secrets import b32decode
from otpgate.service import audit, bypass, enrolment, imports, login, throttle
from otpgate.service.context import Context, Origin
from otpgate.service.errors import CodeRejected, RejectReason
from otpgate.service.verification import HOTP_LOOK_BEHIND
from otpgate.service.views import AuditView, UserView

from .conftest import PASSWORD
from .twofa import enrol

MakeUser = Callable[..., UserView]

# More replays than any code throttle lets through before it locks.
REPLAYS = max(throttle.CODE_PAIR.burst, throttle.CODE_ACCOUNT.burst) + 2
SSH = Origin(source="ssh", client_addr="198.51.100.4", user_agent="sshd:alice")
API = Origin(source="api", client_addr="192.0.2.9", user_agent="portal/1.0")
GA_SECRET = "JBSWY3DPEHPK3PXP"


def _replays(ctx: Context, username: str) -> list[AuditView]:
    return audit.query_audit(ctx, username=username, kind="login.code_replayed", limit=1000)


def _without_audit(dump: Dump) -> Dump:
    return {name: rows for name, rows in dump.items() if name != "audit_events"}


def _replay_many(
    check: Callable[[], object], dump: Callable[[], Dump]
) -> tuple[Dump, Dump, list[CodeRejected]]:
    """Run ``check`` REPLAYS times; the dumps before and after, and the refusals."""
    before = dump()
    refusals = []
    for _ in range(REPLAYS):
        with pytest.raises(CodeRejected) as caught:
            check()
        refusals.append(caught.value)
    return before, dump(), refusals


def _assert_replays_left_no_trace(
    ctx: Context,
    user: UserView,
    outcome: tuple[Dump, Dump, list[CodeRejected]],
    source: str,
    detail: dict[str, object],
) -> None:
    before, after, refusals = outcome
    assert [r.reason for r in refusals] == [RejectReason.REPLAYED] * REPLAYS
    assert _without_audit(after) == _without_audit(before)  # no throttle row, no credential
    assert after["throttles"] == []
    assert after["audit_events"][: len(before["audit_events"])] == before["audit_events"]
    rows = _replays(ctx, user.username)
    assert len(rows) == REPLAYS == len(after["audit_events"]) - len(before["audit_events"])
    assert {(r.source, r.subject_name) for r in rows} == {(source, user.username)}
    assert all(r.detail == detail for r in rows), rows[0].detail


def test_replayed_totp_code_is_never_counted(
    ctx: Context, make_user: MakeUser, dump: Callable[[], Dump]
) -> None:
    """The same TOTP code again and again: REPLAYED each time, no lock, one row each."""
    user = make_user("alice")
    phone = enrol(ctx, API, user.id)
    code = phone.code(ctx)
    login.verify_code_by_name(ctx, API, "alice", code)
    outcome = _replay_many(lambda: login.verify_code_by_name(ctx, API, "alice", code), dump)
    detail = {"method": "totp", "credential_id": phone.credential_id, "credential": "My phone",
              "purpose": "login"}
    _assert_replays_left_no_trace(ctx, user, outcome, "api", detail)
    assert login.verify_code(ctx, API, user.id, phone.code(ctx, 1)).method == "totp"


def _enrol_hotp(ctx: Context, origin: Origin, user_id: int) -> tuple[int, Hotp]:
    pending = enrolment.begin_enrolment(ctx, origin, user_id, step_up_at=ctx.now_dt(), kind="hotp")
    hotp = Hotp(b32decode(pending.secret_b32))
    enrolment.confirm_enrolment(
        ctx, origin, user_id, pending.credential_id, hotp.generate(0), "Key"
    )
    return pending.credential_id, hotp


def test_double_submitted_hotp_code_does_not_lock_the_user(
    ctx: Context, make_user: MakeUser, dump: Callable[[], Dump], web: Origin
) -> None:
    """A HOTP code sent again is REPLAYED (was: WRONG, counted), however often."""
    user = make_user("alice")
    cred_id, hotp = _enrol_hotp(ctx, web, user.id)
    assert login.verify_code(ctx, web, user.id, hotp.generate(1)).method == "hotp"
    outcome = _replay_many(lambda: login.verify_code(ctx, web, user.id, hotp.generate(1)), dump)
    detail = {"method": "hotp", "credential_id": cred_id, "credential": "Key", "purpose": "login"}
    _assert_replays_left_no_trace(ctx, user, outcome, "web", detail)
    assert login.verify_code(ctx, web, user.id, hotp.generate(2)).method == "hotp"


def test_hotp_look_behind_is_bounded(ctx: Context, make_user: MakeUser, web: Origin) -> None:
    """Counters within HOTP_LOOK_BEHIND of the last accepted one are replays; older ones
    are wrong codes (and counted)."""
    user = make_user("alice")
    _cred_id, hotp = _enrol_hotp(ctx, web, user.id)
    last = HOTP_LOOK_BEHIND + 5
    for counter in range(5, last + 1, 5):  # within the look-ahead each time
        login.verify_code(ctx, web, user.id, hotp.generate(counter))
    oldest_known = last - HOTP_LOOK_BEHIND + 1
    for counter, reason in [
        (last, RejectReason.REPLAYED),
        (oldest_known, RejectReason.REPLAYED),
        (oldest_known - 1, RejectReason.WRONG),
    ]:
        with pytest.raises(CodeRejected) as caught:
            login.verify_code(ctx, Origin("web", f"198.51.100.{counter}"), user.id,
                              hotp.generate(counter))
        assert caught.value.reason is reason, counter
    assert len(_replays(ctx, "alice")) == 2
    assert len(audit.query_audit(ctx, kind="login.code_failed")) == 1


def test_reused_recovery_code_is_never_counted(
    ctx: Context, make_user: MakeUser, dump: Callable[[], Dump], web: Origin
) -> None:
    """A used recovery code again and again (login page, which also takes bypass codes)."""
    user = make_user("alice")
    code = enrol(ctx, web, user.id).recovery_codes[0]
    login.verify_recovery_code(ctx, web, user.id, code)
    outcome = _replay_many(
        lambda: bypass.verify_recovery_or_bypass_code(ctx, web, user.id, code), dump
    )
    assert str(outcome[2][0]) == "This recovery code was already used."
    _assert_replays_left_no_trace(ctx, user, outcome, "web", {"method": "recovery"})


def test_reused_scratch_code_is_never_counted(
    ctx: Context, make_user: MakeUser, dump: Callable[[], Dump], cli: Origin
) -> None:
    """An imported google-authenticator scratch code again and again, as SSH sends it."""
    user = make_user("alice")
    imports.import_google_authenticator(ctx, cli, user.id, f"{GA_SECRET}\n12345678\n")
    imports.verify_scratch_code(ctx, SSH, user.id, "12345678")
    outcome = _replay_many(lambda: imports.verify_scratch_code(ctx, SSH, user.id, "12345678"), dump)
    assert str(outcome[2][0]) == "This scratch code was already used."
    _assert_replays_left_no_trace(ctx, user, outcome, "ssh", {"method": "scratch"})


def test_replay_row_survives_the_rollback_of_a_larger_transaction(
    ctx: Context, make_user: MakeUser, dump: Callable[[], Dump], web: Origin
) -> None:
    """Turning 2FA off with the right password and a replayed code: the whole use case
    rolls back (2FA stays on, the password step leaves nothing), the replay row stays."""
    user = make_user("alice")
    phone = enrol(ctx, web, user.id)
    code = phone.code(ctx)
    login.verify_code(ctx, web, user.id, code)
    before = dump()
    with pytest.raises(CodeRejected) as caught:
        enrolment.disable_2fa(ctx, web, user.id, PASSWORD, code)
    assert caught.value.reason is RejectReason.REPLAYED
    after = dump()
    assert _without_audit(after) == _without_audit(before)
    [row] = _replays(ctx, "alice")
    assert row.detail["purpose"] == "disable_2fa"
    assert len(after["audit_events"]) == len(before["audit_events"]) + 1
