"""``otpgate 2fa reset|status``."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from db_support import Dump
from otpgate.service import audit, users
from otpgate.service.context import Context

from .conftest import PASSWORD, Run, enrol_totp, one_line

NOTE = "called back on the phone number on file"


@pytest.fixture
def bob_with_2fa(run: Run, service_ctx: Callable[[], Context]) -> Context:
    """alice (admin) and bob, who has one TOTP authenticator; a context on the database."""
    run("user", "add", "alice", "--admin", stdin=PASSWORD + "\n")
    run("user", "add", "bob", stdin=PASSWORD + "\n")
    ctx = service_ctx()
    enrol_totp(ctx, "bob", "Pixel")
    return ctx


def test_status_lists_authenticators(run: Run, bob_with_2fa: Context) -> None:
    """`2fa status` says 2FA is on, names the authenticator and counts recovery codes."""
    result = run("2fa", "status", "bob")
    assert result.code == 0, result.err
    assert "Two-factor:      on" in result.out
    assert f"Recovery codes:  {bob_with_2fa.settings.recovery_code_count} left" in result.out
    assert "Pixel" in result.out and "TOTP" in result.out and "SHA1/6/30s" in result.out


def test_reset_removes_2fa_and_audits_the_note(run: Run, bob_with_2fa: Context) -> None:
    """After `2fa reset` bob has no second factor and the note is in the audit log."""
    result = run("2fa", "reset", "BOB", "--note", NOTE)
    assert result.code == 0, result.err
    assert users.find_user(bob_with_2fa, "bob").has_2fa is False
    assert "Two-factor:      off" in run("2fa", "status", "bob").out
    [event] = audit.query_audit(bob_with_2fa, kind="2fa.reset")
    assert (event.source, event.subject_name, event.detail["note"]) == ("cli", "bob", NOTE)
    assert event.detail["credentials"] == 1


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["2fa", "reset", "bob"], 2),  # no note
        (["2fa", "reset", "bob", "--note", "ok"], 2),  # too short
        (["2fa", "reset", "bob", "--note", "          "], 2),  # blank
        (["2fa", "reset", "nobody", "--note", NOTE], 3),
        (["2fa", "status", "nobody"], 3),
    ],
)
def test_refused_resets_change_nothing(
    run: Run, bob_with_2fa: Context, dump: Callable[[], Dump], argv: list[str], code: int
) -> None:
    """A reset without a proper note, or of an unknown user, is refused and changes nothing."""
    before = dump()
    result = run(*argv)
    assert result.code == code, result
    one_line(result.err)
    assert dump() == before


def test_status_and_show_of_a_deactivated_user(run: Run, bob_with_2fa: Context) -> None:
    """A deactivated account can still be inspected by the operator."""
    assert run("user", "deactivate", "bob").code == 0
    status = run("2fa", "status", "bob")
    assert status.code == 0, status.err
    assert "(deactivated)" in status.out
    show = run("user", "show", "bob")
    assert show.code == 0, show.err
    assert "Active:              no" in show.out
