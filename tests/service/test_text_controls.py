"""Names and notes are text: C0/C1 controls and bidi overrides are refused at every use case."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from db_support import Dump
from otpgate.service import admin, api_tokens, bypass, enrolment, imports, users
from otpgate.service._text import name_text, note_text, strip_controls
from otpgate.service.context import Context, Origin
from otpgate.service.errors import InvalidInput
from otpgate.service.views import UserView

from .conftest import PASSWORD
from .twofa import enrol

MakeUser = Callable[..., UserView]

CONTROLS = [
    "\x00", "\x07", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f",  # C0 and DEL
    "\x80", "\x85", "\x9b", "\x9f",  # C1
    "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",  # embeddings and overrides
    "\u2066", "\u2067", "\u2068", "\u2069",  # isolates
]


@pytest.mark.parametrize("char", CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
def test_every_control_is_refused_with_its_code_point(char: str) -> None:
    """Names and notes holding the character are refused; the one-line message names it."""
    checks: list[Callable[[], str]] = [
        lambda: name_text(f"My{char}phone", "authenticator name", 100),
        lambda: note_text(f"Checked the passport{char}", "identity-check note"),
    ]
    for check in checks:
        with pytest.raises(InvalidInput) as refused:
            check()
        message = str(refused.value)
        assert f"U+{ord(char):04X}" in message and "\n" not in message
    assert strip_controls(f"My{char}phone") == "Myphone"


def test_ordinary_text_passes() -> None:
    """Accents, emoji joined by ZWJ, and whitespace (folded in names, line breaks kept in
    notes) are text."""
    assert name_text("  Téléphone\tde\nZoé 👨\u200d👩\u200d👧 ", "name", 100) == (
        "Téléphone de Zoé 👨\u200d👩\u200d👧"
    )
    assert note_text(" Passport checked\r\nby video call ", "note") == (
        "Passport checked\nby video call"
    )


@pytest.mark.parametrize("bad", ["gpj.\u202eexe", "esc\x1b[2Jape", "nul\x00"])
def test_use_cases_refuse_and_store_nothing(
    ctx: Context, web: Origin, cli: Origin, make_user: MakeUser, dump: Callable[[], Dump],
    bad: str,
) -> None:
    """Each use case that stores a name or note refuses it with InvalidInput, unchanged data."""
    root = make_user("root", admin=True)
    alice = make_user("alice")
    enrolled = enrol(ctx, web, alice.id)
    pending = enrolment.begin_enrolment(ctx, web, alice.id, step_up_at=ctx.now_dt())
    note = f"Checked the passport {bad}"
    attempts: list[Callable[[], object]] = [
        lambda: enrolment.rename_credential(ctx, web, alice.id, enrolled.credential_id, bad),
        lambda: enrolment.confirm_enrolment(
            ctx, web, alice.id, pending.credential_id, "000000", bad
        ),
        lambda: users.create_user(ctx, cli, "bob", PASSWORD, display_name=bad),
        lambda: admin.reset_2fa(ctx, cli, root.id, alice.id, note),
        lambda: bypass.issue_bypass_code(ctx, cli, root.id, alice.id, note),
        lambda: api_tokens.create_api_token(ctx, cli, root.id, bad, {"verify"}),
        lambda: imports.import_google_authenticator(
            ctx, cli, alice.id, "JBSWY3DPEHPK3PXP\n\" TOTP_AUTH\n", name=bad
        ),
    ]
    before = dump()
    for attempt in attempts:
        with pytest.raises(InvalidInput, match="control characters or text-direction"):
            attempt()
        assert dump() == before
