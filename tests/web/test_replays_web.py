"""Replays over HTTP: the API answers ``replayed`` and the pages say "already used", every
time, without locking the account, with one ``login.code_replayed`` row per replay."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from test_api_support import OPERATOR, ApiHarness, api_harness
from web_pages_support import Portal, portal, text_of

from otpgate.otp import Hotp
from otpgate.otp.secrets import b32decode
from otpgate.service import audit, enrolment, throttle
from otpgate.service.context import Context

VERIFY = "/api/v1/verify"
# More replays than any code throttle lets through before it locks.
REPLAYS = max(throttle.CODE_PAIR.burst, throttle.CODE_ACCOUNT.burst) + 2


@pytest.fixture
def api(engine: Engine, tmp_path: Path) -> Iterator[ApiHarness]:
    with api_harness(engine, tmp_path) as harness:
        yield harness


@pytest.fixture
def web(engine: Engine, tmp_path: Path) -> Iterator[Portal]:
    with portal(engine, tmp_path) as harness:
        yield harness


def _replay_sources(ctx: Context, username: str) -> list[str]:
    rows = audit.query_audit(ctx, username=username, kind="login.code_replayed", limit=100)
    return [r.source for r in rows]


def test_api_double_submitted_hotp_code_is_replayed_every_time(api: ApiHarness) -> None:
    """The same HOTP code posted again REPLAYS times: 401 reason=replayed each time (never
    423), one audit row each, and the user's next code still works."""
    user = api.user("alice")
    pending = enrolment.begin_enrolment(
        api.ctx, OPERATOR, user.id, step_up_at=api.ctx.now_dt(), kind="hotp"
    )
    hotp = Hotp(b32decode(pending.secret_b32))
    enrolment.confirm_enrolment(
        api.ctx, OPERATOR, user.id, pending.credential_id, hotp.generate(0), "Key"
    )
    headers = api.auth("verify")
    payload = {"username": "alice", "code": hotp.generate(1)}
    assert api.client.post(VERIFY, json=payload, headers=headers).status_code == 200
    for _ in range(REPLAYS):
        r = api.client.post(VERIFY, json=payload, headers=headers)
        assert (r.status_code, r.json()["reason"]) == (401, "replayed"), r.text
    assert _replay_sources(api.ctx, "alice") == ["api"] * REPLAYS
    assert audit.query_audit(api.ctx, username="alice", kind="login.code_failed") == []
    r = api.client.post(VERIFY, json={"username": "alice", "code": hotp.generate(2)},
                        headers=headers)
    assert r.status_code == 200, r.text


def test_pages_say_already_used_for_replayed_codes_and_recovery_codes(web: Portal) -> None:
    """On the 2FA page and the recovery page, a used code REPLAYS times: "already used"
    each time, no lock, and the right code / an unused recovery code still logs in."""
    _, recovery_codes = web.enrolled("bob")
    used = web.code("bob")
    web.full_login("bob")  # with that code; the clock then moves one step on
    web.logout()
    web.login("bob")
    for _ in range(REPLAYS):
        again = web.submit("/login/2fa", "/login/2fa", {"code": used})
        assert again.status_code == 401
        assert "This code was already used." in text_of(again.text)
    web.clock.advance(30)
    assert web.submit("/login/2fa", "/login/2fa", {"code": web.code("bob")}).status_code == 303
    web.logout()

    web.login("bob")
    first = web.submit("/login/recovery", "/login/recovery", {"code": recovery_codes[0]})
    assert first.status_code == 303
    web.logout()
    web.login("bob")
    for _ in range(REPLAYS):
        again = web.submit("/login/recovery", "/login/recovery", {"code": recovery_codes[0]})
        assert again.status_code == 401
        assert "This recovery code was already used." in text_of(again.text)
    done = web.submit("/login/recovery", "/login/recovery", {"code": recovery_codes[1]})
    assert done.status_code == 303
    assert _replay_sources(web.ctx, "bob") == ["web"] * (2 * REPLAYS)
