"""``otpgate 2fa bypass`` and ``otpgate 2fa resync``."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from db_support import Dump
from otpgate.otp import Hotp
from otpgate.otp.secrets import b32decode
from otpgate.service import audit, bypass, enrolment, login, users
from otpgate.service.context import Context

from .conftest import OPERATOR, PASSWORD, Run, enrol_totp, one_line

NOTE = "called back on the phone number on file"


@pytest.fixture
def ctx(run: Run, service_ctx: Callable[[], Context]) -> Context:
    """bob, with a TOTP authenticator, and carol, with a HOTP key; a context on the database."""
    run("user", "add", "bob", stdin=PASSWORD + "\n")
    run("user", "add", "carol", stdin=PASSWORD + "\n")
    ctx = service_ctx()
    enrol_totp(ctx, "bob", "Pixel")
    return ctx


def _hotp(ctx: Context, username: str) -> Hotp:
    user = users.find_user(ctx, username)
    pending = enrolment.begin_enrolment(
        ctx, OPERATOR, user.id, step_up_at=ctx.now_dt(), kind="hotp"
    )
    hotp = Hotp(b32decode(pending.secret_b32))
    enrolment.confirm_enrolment(ctx, OPERATOR, user.id, pending.credential_id,
                                hotp.generate(0), "Key")
    return hotp


def test_bypass_prints_a_code_that_works_once(run: Run, ctx: Context) -> None:
    """The code is the only line on stdout, is audited with the note, and logs bob in once."""
    result = run("2fa", "bypass", "bob", "--note", NOTE)
    assert result.code == 0, result.err
    code = result.out.strip()
    assert len(code) == 14 and code.count("-") == 2
    assert "recovery-code page" in result.err
    [event] = audit.query_audit(ctx, kind="bypass.issued")
    assert (event.source, event.detail["note"]) == ("cli", NOTE)
    bob = users.find_user(ctx, "bob")
    assert bypass.verify_recovery_or_bypass_code(ctx, OPERATOR, bob.id, code).method == "bypass"


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["2fa", "bypass", "bob"], 2),  # no note
        (["2fa", "bypass", "bob", "--note", "short"], 2),
        (["2fa", "bypass", "nobody", "--note", NOTE], 3),
        (["2fa", "bypass", "carol", "--note", NOTE], 1),  # no 2FA to bypass
        (["2fa", "resync", "bob", "123456", "234567"], 1),  # no HOTP key
        (["2fa", "resync", "carol", "123456"], 2),  # one code only
    ],
)
def test_refusals_change_nothing(
    run: Run, ctx: Context, dump: Callable[[], Dump], argv: list[str], code: int
) -> None:
    """Missing or short notes, unknown users, nothing to bypass or resync: one line, no change."""
    before = dump()
    result = run(*argv)
    assert result.code == code, result
    one_line(result.err)
    assert dump() == before


def test_resync_with_codes_on_stdin(run: Run, ctx: Context) -> None:
    """Two consecutive codes read from stdin move carol's counter; the next code logs in."""
    hotp = _hotp(ctx, "carol")
    wrong = run("2fa", "resync", "carol", hotp.generate(50), hotp.generate(52))
    assert wrong.code == 1
    one_line(wrong.err)
    result = run("2fa", "resync", "carol", stdin=f"{hotp.generate(50)}\n{hotp.generate(51)}\n")
    assert result.code == 0, result.err
    assert "resynchronised" in result.out
    carol = users.find_user(ctx, "carol")
    assert login.verify_code(ctx, OPERATOR, carol.id, hotp.generate(52)).method == "hotp"
