"""pam_otpgate.so driven by Debian's pamtester: the real module, helper and database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyotp
import pytest

from otpgate.service import admin, audit, enrolment, recovery, users

from .conftest import (
    OPERATOR,
    WEB,
    Otpgate,
    ServiceFactory,
    UnixUser,
    closed_port,
    next_code,
    otpgate_values,
    pamtester,
    write_env_file,
)


def _wrong(secret: str) -> str:
    """A well-formed code that is not the next one."""
    return "000000" if next_code(secret) != "000000" else "111111"


def test_right_code_then_replay(otpgate: Otpgate, pam_service: ServiceFactory) -> None:
    """A fresh code opens the login once; the same code again is refused."""
    secret = otpgate.add_user("alice")
    service = pam_service(f"config={otpgate.env_file}")
    code = next_code(secret)
    assert pamtester(service, "alice", code) == 0
    assert pamtester(service, "alice", code) == 1
    events = audit.query_audit(otpgate.ctx, username="alice", kind="login.ok")
    assert len(events) == 1
    assert events[0].source == "ssh"
    assert events[0].user_agent == f"{service}:alice"


@pytest.mark.parametrize(
    "answer",
    ["000000", "12a456", "\u0661\u0662\u0663\u0664\u0665\u0666", "1" * 300, "1" * 5000, ""],
    ids=["wrong", "letter", "arabic-digits", "oversized", "huge", "empty"],
)
def test_bad_answers_refused(otpgate: Otpgate, pam_service: ServiceFactory, answer: str) -> None:
    """Wrong, non-digit, non-ASCII, oversized and empty answers are all refused."""
    secret = otpgate.add_user("alice")
    service = pam_service(f"config={otpgate.env_file}")
    if answer == "000000" and next_code(secret) == answer:
        answer = "000001"
    assert pamtester(service, "alice", answer) == 1


def test_throttle_refuses_a_right_code(otpgate: Otpgate, pam_service: ServiceFactory) -> None:
    """After repeated wrong codes the account is locked and even the right code fails."""
    secret = otpgate.add_user("alice")
    service = pam_service(f"config={otpgate.env_file}")
    right = next_code(secret)
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(4):
        assert pamtester(service, "alice", wrong) == 1
    user = users.find_user(otpgate.ctx, "alice")
    assert admin.lock_state(otpgate.ctx, user.id) is not None
    assert pamtester(service, "alice", right) == 1
    assert audit.query_audit(otpgate.ctx, username="alice", kind="login.locked")


def test_recovery_code_works_once(otpgate: Otpgate, pam_service: ServiceFactory) -> None:
    """A recovery code typed at the prompt logs in once, and not a second time."""
    otpgate.add_user("alice")
    user = users.find_user(otpgate.ctx, "alice")
    codes = recovery.regenerate_recovery_codes(
        otpgate.ctx, WEB, user.id, step_up_at=otpgate.ctx.now_dt()
    )
    service = pam_service(f"config={otpgate.env_file}")
    assert pamtester(service, "alice", codes[0]) == 0
    assert pamtester(service, "alice", codes[0]) == 1
    assert recovery.recovery_codes_left(otpgate.ctx, user.id) == len(codes) - 1


@pytest.mark.parametrize("enrolled_account", [False, True], ids=["unknown", "no-2fa"])
def test_user_without_2fa_needs_nullok(
    otpgate: Otpgate, pam_service: ServiceFactory, enrolled_account: bool
) -> None:
    """A user with no otpgate 2FA is refused, unless the module has ``nullok``."""
    if enrolled_account:
        otpgate.add_user("bob", enrol=False)
    strict = pam_service(f"config={otpgate.env_file}")
    lenient = pam_service(f"config={otpgate.env_file}", "nullok")
    assert pamtester(strict, "bob", "123456") == 1
    assert pamtester(lenient, "bob", "123456") == 0


def test_nullok_does_not_spare_enrolled_users(
    otpgate: Otpgate, pam_service: ServiceFactory
) -> None:
    """With ``nullok``, an enrolled user still needs a right code."""
    secret = otpgate.add_user("alice")
    service = pam_service(f"config={otpgate.env_file}", "nullok")
    assert pamtester(service, "alice", _wrong(secret)) == 1
    assert pamtester(service, "alice", next_code(secret)) == 0


@pytest.mark.parametrize("nullok", [False, True])
def test_database_down_refuses(
    tmp_path: Path, otpgate: Otpgate, pam_service: ServiceFactory, nullok: bool
) -> None:
    """An unreachable database refuses every login, nullok or not."""
    secret = otpgate.add_user("alice")
    values = otpgate_values(otpgate.home)
    values["OTPGATE_DATABASE_URL"] = f"postgresql+psycopg://x@127.0.0.1:{closed_port()}/x"
    env_file = write_env_file(tmp_path / "down.env", values)
    service = pam_service(f"config={env_file}", *(["nullok"] if nullok else []))
    assert pamtester(service, "alice", next_code(secret)) == 1
    assert pamtester(service, "nobody-here", "123456") == 1


def test_missing_helper_refuses(otpgate: Otpgate, pam_module: Path) -> None:
    """A helper path that does not exist refuses the login (nullok does not help)."""
    import secrets as random

    secret = otpgate.add_user("alice")
    service = f"otpgate-test-{random.token_hex(4)}"
    path = Path("/etc/pam.d") / service
    path.write_text(
        f"auth required {pam_module} helper=/nonexistent/otpgate config={otpgate.env_file} "
        "nullok\naccount required pam_permit.so\n",
        encoding="utf-8",
    )
    try:
        assert pamtester(service, "alice", next_code(secret)) == 1
    finally:
        path.unlink()


def test_unsafe_settings_file_refuses(otpgate: Otpgate, pam_service: ServiceFactory) -> None:
    """A settings file writable by others is not trusted: the login is refused."""
    secret = otpgate.add_user("alice")
    otpgate.env_file.chmod(0o666)
    service = pam_service(f"config={otpgate.env_file}")
    assert pamtester(service, "alice", next_code(secret)) == 1


def test_unknown_option_refuses(otpgate: Otpgate, pam_service: ServiceFactory) -> None:
    """A misspelt option (here ``nulok``) fails closed instead of being ignored."""
    secret = otpgate.add_user("alice")
    service = pam_service(f"config={otpgate.env_file}", "nulok")
    assert pamtester(service, "alice", next_code(secret)) == 1


def test_user_map(tmp_path: Path, otpgate: Otpgate, pam_service: ServiceFactory) -> None:
    """A mapped system user must give the code of the otpgate account it maps to."""
    secret = otpgate.add_user("alice")
    user_map = tmp_path / "users.map"
    user_map.write_text("# system otpgate\nalice-admin alice\n", encoding="utf-8")
    service = pam_service(f"config={otpgate.env_file}", f"map={user_map}")
    assert pamtester(service, "alice-admin", next_code(secret)) == 0
    events = audit.query_audit(otpgate.ctx, username="alice", kind="login.ok")
    assert events[0].user_agent.endswith(":alice-admin")


def test_group_option(
    otpgate: Otpgate,
    pam_service: ServiceFactory,
    unix_group: str,
    unix_user: Callable[..., UnixUser],
) -> None:
    """With ``group=``, members need a code; others pass without being asked."""
    member, outsider = unix_user(groups=unix_group), unix_user()
    secret = otpgate.add_user(member.name)
    service = pam_service(f"config={otpgate.env_file}", f"group={unix_group}")
    assert pamtester(service, outsider.name, b"") == 0
    assert pamtester(service, member.name, _wrong(secret)) == 1
    assert pamtester(service, member.name, next_code(secret)) == 0


def test_missing_group_refuses(otpgate: Otpgate, pam_service: ServiceFactory) -> None:
    """A ``group=`` that does not exist refuses everyone rather than switching 2FA off."""
    service = pam_service(f"config={otpgate.env_file}", "group=no-such-group-otpgate")
    assert pamtester(service, "root", "123456") == 1


def test_hotp_credential(otpgate: Otpgate, pam_service: ServiceFactory) -> None:
    """An HOTP authenticator's next counter value logs in, and only once."""
    user = users.create_user(otpgate.ctx, OPERATOR, "carol", "correct horse battery")
    pending = enrolment.begin_enrolment(
        otpgate.ctx, WEB, user.id, step_up_at=otpgate.ctx.now_dt(), kind="hotp"
    )
    hotp = pyotp.HOTP(pending.secret_b32)
    enrolment.confirm_enrolment(
        otpgate.ctx, WEB, user.id, pending.credential_id, hotp.at(0), "token"
    )
    service = pam_service(f"config={otpgate.env_file}")
    assert pamtester(service, "carol", hotp.at(1)) == 0
    assert pamtester(service, "carol", hotp.at(1)) == 1
    assert pamtester(service, "carol", hotp.at(3)) == 0
