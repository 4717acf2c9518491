"""Replays through SSH (pamtester, the real module and daemon, and once the helper): a used
TOTP/HOTP code, recovery code or scratch code is refused as ``replayed`` every time, never
locks the account, and leaves one ``login.code_replayed`` row with source ``ssh`` each."""

from __future__ import annotations

from pathlib import Path

import pyotp

from otpgate.otp import Hotp
from otpgate.otp.secrets import b32decode
from otpgate.service import admin, audit, imports, recovery, throttle, users

from .conftest import (
    OPERATOR,
    WEB,
    Daemon,
    Otpgate,
    ServiceFactory,
    next_code,
    pamtester,
)

# More replays than any code throttle lets through before it locks.
REPLAYS = max(throttle.CODE_PAIR.burst, throttle.CODE_ACCOUNT.burst) + 2


def _socket_service(pam_service: ServiceFactory, daemon_socket: Path) -> str:
    return pam_service(f"socket={daemon_socket}", with_helper=False)


def _replays(otpgate: Otpgate, username: str) -> list[tuple[str, object]]:
    rows = audit.query_audit(otpgate.ctx, username=username, kind="login.code_replayed",
                             limit=100)
    return [(r.source, r.detail["method"]) for r in rows]


def _assert_replayed_and_open(otpgate: Otpgate, daemon: Daemon, username: str) -> None:
    user = users.find_user(otpgate.ctx, username)
    assert admin.lock_state(otpgate.ctx, user.id) is None
    assert audit.query_audit(otpgate.ctx, username=username, kind="login.code_failed") == []
    log = daemon.log_text()
    assert log.count(f"refused user={username} rhost=- reason=replayed") >= REPLAYS


def test_replayed_totp_and_recovery_codes(
    otpgate: Otpgate, pam_service: ServiceFactory, daemon: Daemon
) -> None:
    """A TOTP code and a recovery code, each used once then typed REPLAYS times more."""
    secret = otpgate.add_user("alice")
    user = users.find_user(otpgate.ctx, "alice")
    codes = recovery.regenerate_recovery_codes(
        otpgate.ctx, WEB, user.id, step_up_at=otpgate.ctx.now_dt()
    )
    service = _socket_service(pam_service, daemon.socket)
    code = next_code(secret)
    assert pamtester(service, "alice", code) == 0
    assert pamtester(service, "alice", codes[0]) == 0
    for _ in range(REPLAYS):
        assert pamtester(service, "alice", code) == 1
        assert pamtester(service, "alice", codes[0]) == 1
    _assert_replayed_and_open(otpgate, daemon, "alice")
    assert sorted(_replays(otpgate, "alice")) == sorted(
        [("ssh", "totp"), ("ssh", "recovery")] * REPLAYS
    )
    assert pamtester(service, "alice", codes[1]) == 0


def test_replayed_hotp_and_scratch_codes(
    otpgate: Otpgate, pam_service: ServiceFactory, daemon: Daemon
) -> None:
    """An imported HOTP file's code and scratch code, each used once then REPLAYS times more."""
    otpgate.add_user("dave", enrol=False)
    user = users.find_user(otpgate.ctx, "dave")
    imports.import_google_authenticator(
        otpgate.ctx, OPERATOR, user.id, 'JBSWY3DPEHPK3PXP\n" HOTP_COUNTER 5\n12345678\n'
    )
    hotp = Hotp(b32decode("JBSWY3DPEHPK3PXP", allow_short=True), allow_short_key=True)
    service = _socket_service(pam_service, daemon.socket)
    assert pamtester(service, "dave", hotp.generate(5)) == 0
    assert pamtester(service, "dave", "12345678") == 0
    for _ in range(REPLAYS):
        assert pamtester(service, "dave", hotp.generate(5)) == 1
        assert pamtester(service, "dave", "12345678") == 1
    _assert_replayed_and_open(otpgate, daemon, "dave")
    assert sorted(_replays(otpgate, "dave")) == sorted(
        [("ssh", "hotp"), ("ssh", "scratch")] * REPLAYS
    )
    assert pamtester(service, "dave", hotp.generate(6)) == 0


def test_helper_audits_a_replay(otpgate: Otpgate, pam_service: ServiceFactory) -> None:
    """Through ``helper=`` (a process per check) a replay is refused and audited as well."""
    secret = otpgate.add_user("erin")
    service = pam_service(f"config={otpgate.env_file}")
    code = str(pyotp.TOTP(secret).at(int(otpgate.ctx.clock.now()) + 30))
    assert pamtester(service, "erin", code) == 0
    assert pamtester(service, "erin", code) == 1
    assert _replays(otpgate, "erin") == [("ssh", "totp")]
