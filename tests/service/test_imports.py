"""Importing google-authenticator-libpam files: strict parsing, credential, scratch codes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyotp
import pytest
from sqlalchemy import Engine, select

from otpgate.service import audit, imports, login
from otpgate.service.context import Context, Origin
from otpgate.service.errors import CodeRejected, InvalidInput, Locked, RejectReason
from otpgate.service.views import UserView
from otpgate.store.models import RecoveryCode

from .conftest import T0

SECRET = "JBSWY3DPEHPK3PXP"  # 80 bits, google-authenticator's default length
SCRATCH = ("12345678", "87654321")
SSH = Origin(source="ssh", client_addr="198.51.100.4", user_agent="sshd:alice")


def ga_text(*options: str, scratch: tuple[str, ...] = SCRATCH, secret: str = SECRET) -> str:
    """A file in google-authenticator's layout."""
    return "".join([f"{secret}\n", *(f'" {o}\n' for o in options), *(f"{c}\n" for c in scratch)])


def test_parse_every_option() -> None:
    """Each documented option line is read into the parsed file."""
    parsed = imports.parse_google_authenticator(
        ga_text("RATE_LIMIT 3 30 1700000000", "WINDOW_SIZE 17", "DISALLOW_REUSE 56666666",
                "TOTP_AUTH", "STEP_SIZE 60")
    )
    assert parsed.kind == "totp"
    assert parsed.period == 60
    assert parsed.window_size == 17
    assert parsed.rate_limit == (3, 30)
    assert parsed.disallow_reuse
    assert parsed.used_steps == (56666666,)
    assert parsed.scratch_codes == SCRATCH
    assert SECRET not in repr(parsed) and "12345678" not in repr(parsed)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("not base32!\n", "line 1"),
        ("JBSWY3DP\n", "80 bits"),
        (ga_text("FOO 1"), "line 2"),
        (ga_text("WINDOW_SIZE x"), "line 2"),
        (ga_text("WINDOW_SIZE 99"), "WINDOW_SIZE"),
        (ga_text("TOTP_AUTH", "HOTP_COUNTER 1"), "both"),
        (ga_text("TOTP_AUTH", "TOTP_AUTH"), "twice"),
        (ga_text("HOTP_COUNTER 0"), "HOTP_COUNTER"),
        (ga_text("STEP_SIZE 0"), "STEP_SIZE"),
        (ga_text("RATE_LIMIT 3"), "line 2"),
        (ga_text(scratch=("1234567",)), "line 2"),
        (ga_text(scratch=("12345678", "12345678")), "twice"),
        (ga_text(scratch=tuple(str(10_000_000 + i) for i in range(11))), "more than 10"),
        (ga_text() + '" TOTP_AUTH\n', "after the scratch codes"),
        ("A" * 5000, "larger than"),
    ],
)
def test_malformed_files_refused(text: str, message: str) -> None:
    """A malformed file raises InvalidInput naming the problem."""
    with pytest.raises(InvalidInput, match=message):
        imports.parse_google_authenticator(text)


def test_import_totp_logs_in(ctx: Context, make_user: Callable[..., UserView], cli: Origin) -> None:
    """The imported TOTP secret's current code logs in; its audit row notes the options."""
    user = make_user("alice")
    result = imports.import_google_authenticator(
        ctx, cli, user.id, ga_text("WINDOW_SIZE 17", "RATE_LIMIT 3 30", "TOTP_AUTH")
    )
    assert result.kind == "totp" and result.first_authenticator and result.scratch_codes == 2
    factor = login.verify_code(ctx, SSH, user.id, pyotp.TOTP(SECRET).at(T0))
    assert factor.method == "totp"
    (event,) = audit.query_audit(ctx, username="alice", kind="2fa.enabled")
    assert event.detail["window_size"] == 17
    assert event.detail["rate_limit"] == [3, 30]
    assert event.detail["short_secret"] is True


def test_disallow_reuse_steps_are_used(
    ctx: Context, make_user: Callable[..., UserView], cli: Origin
) -> None:
    """A step listed after DISALLOW_REUSE was used under libpam: its code is a replay."""
    user = make_user("alice")
    step = T0 // 30
    imports.import_google_authenticator(ctx, cli, user.id, ga_text(f"DISALLOW_REUSE {step}"))
    with pytest.raises(CodeRejected) as caught:
        login.verify_code(ctx, SSH, user.id, pyotp.TOTP(SECRET).at(T0))
    assert caught.value.reason is RejectReason.REPLAYED


def test_import_hotp_at_its_counter(
    ctx: Context, make_user: Callable[..., UserView], cli: Origin
) -> None:
    """HOTP_COUNTER is the next counter: the code before it is refused, its own accepted."""
    user = make_user("alice")
    imports.import_google_authenticator(ctx, cli, user.id, ga_text("HOTP_COUNTER 7"))
    hotp = pyotp.HOTP(SECRET)
    with pytest.raises(CodeRejected):
        login.verify_code(ctx, SSH, user.id, hotp.at(6))
    assert login.verify_code(ctx, SSH, user.id, hotp.at(7)).method == "hotp"


def test_bad_file_changes_nothing(
    ctx: Context, make_user: Callable[..., UserView], cli: Origin, dump: Callable[[], Any]
) -> None:
    """A malformed file is refused before anything is written."""
    user = make_user("alice")
    before = dump()
    with pytest.raises(InvalidInput):
        imports.import_google_authenticator(ctx, cli, user.id, ga_text("BOGUS"))
    assert dump() == before


def test_scratch_codes_hashed_and_single_use(
    ctx: Context, make_user: Callable[..., UserView], cli: Origin, engine: Engine
) -> None:
    """Scratch codes are stored as argon2 hashes and each logs in once; again, it is a replay."""
    user = make_user("alice")
    imports.import_google_authenticator(ctx, cli, user.id, ga_text())
    with engine.connect() as conn:
        stored = conn.execute(select(RecoveryCode.code_hash)).scalars().all()
    assert len(stored) == 2
    assert all(h.startswith("$argon2id$") and "12345678" not in h for h in stored)
    assert imports.verify_scratch_code(ctx, SSH, user.id, SCRATCH[0]).recovery_codes_left == 1
    with pytest.raises(CodeRejected) as caught:
        imports.verify_scratch_code(ctx, SSH, user.id, SCRATCH[0])
    assert caught.value.reason is RejectReason.REPLAYED


def test_scratch_guesses_hit_the_account_throttle(
    ctx: Context, make_user: Callable[..., UserView], cli: Origin
) -> None:
    """Wrong scratch codes from many addresses still lock the account's code scope."""
    user = make_user("alice")
    imports.import_google_authenticator(ctx, cli, user.id, ga_text())
    with pytest.raises(Locked):
        for i in range(20):
            origin = Origin(source="ssh", client_addr=f"198.51.100.{i}")
            with pytest.raises(CodeRejected):
                imports.verify_scratch_code(ctx, origin, user.id, f"{90000000 + i}")
    with pytest.raises(Locked):
        imports.verify_scratch_code(ctx, SSH, user.id, SCRATCH[0])


@pytest.mark.parametrize("typed", ["1234 5678", " 12345678 ", "1 2 3 4 5 6 7 8"])
def test_scratch_code_typed_with_spaces(
    ctx: Context, make_user: Callable[..., UserView], cli: Origin, typed: str
) -> None:
    """Spaces are removed as in a TOTP code: the scratch code is accepted, and used up."""
    user = make_user("alice")
    imports.import_google_authenticator(ctx, cli, user.id, ga_text(scratch=("12345678",)))
    assert imports.is_scratch_code(typed)
    assert imports.verify_scratch_code(ctx, SSH, user.id, typed).recovery_codes_left == 0
    with pytest.raises(CodeRejected):
        imports.verify_scratch_code(ctx, SSH, user.id, "12345678")


def test_scratch_shape_checked_first(
    ctx: Context, make_user: Callable[..., UserView], cli: Origin
) -> None:
    """Anything but 8 digits is MALFORMED and not counted."""
    user = make_user("alice")
    imports.import_google_authenticator(ctx, cli, user.id, ga_text())
    for text in ["1234567", "123456789", "1234567a"]:
        with pytest.raises(CodeRejected) as caught:
            imports.verify_scratch_code(ctx, SSH, user.id, text)
        assert caught.value.reason is RejectReason.MALFORMED
