"""JSON API: HOTP resync, admin one-time bypass codes, and the app-compatibility error."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from test_api_support import OPERATOR, ApiHarness, api_harness, secret_of

from otpgate.otp import Hotp
from otpgate.otp.secrets import b32decode
from otpgate.service import audit, bypass, enrolment
from otpgate.web.app import create_app

NOTE = "came to the desk with the staff badge"


@pytest.fixture
def api(engine: Engine, tmp_path: Path) -> Iterator[ApiHarness]:
    with api_harness(engine, tmp_path) as harness:
        yield harness


def test_resync_moves_the_counter_and_counts_as_verified(api: ApiHarness) -> None:
    """Two consecutive HOTP codes resync (verify scope); a non-consecutive pair is 401,
    a TOTP-only user 409, another scope 403."""
    user = api.user("alice")
    pending = enrolment.begin_enrolment(
        api.ctx, OPERATOR, user.id, step_up_at=api.ctx.now_dt(), kind="hotp"
    )
    hotp = Hotp(b32decode(pending.secret_b32))
    enrolment.confirm_enrolment(api.ctx, OPERATOR, user.id, pending.credential_id,
                                hotp.generate(0), "Key")
    path = "/api/v1/users/alice/2fa/resync"
    verify = api.auth("verify")
    wrong = api.client.post(path, json={"first": hotp.generate(30), "second": hotp.generate(32)},
                            headers=verify)
    assert (wrong.status_code, wrong.json()["error"]) == (401, "code_rejected")
    assert api.client.post(path, json={"first": "1", "second": "2"},
                           headers=api.auth("admin")).status_code == 403
    done = api.client.post(path, json={"first": hotp.generate(30), "second": hotp.generate(31)},
                           headers=verify)
    assert done.status_code == 200, done.text
    assert done.json()["method"] == "hotp"
    assert done.json()["credential_id"] == pending.credential_id
    after = api.client.post("/api/v1/verify", json={"username": "alice",
                                                    "code": hotp.generate(32)}, headers=verify)
    assert after.status_code == 200
    api.enrolled("bob")
    none = api.client.post("/api/v1/users/bob/2fa/resync",
                           json={"first": "123456", "second": "234567"}, headers=verify)
    assert (none.status_code, none.json()["error"]) == (409, "not_enrolled")


def test_bypass_code_needs_admin_scope_and_a_note(api: ApiHarness) -> None:
    """The admin scope issues a code (201, no-store) that works once at the recovery step;
    a short note is 400, the verify scope 403, an unknown user 404."""
    user, _ = api.enrolled("alice")
    path = "/api/v1/users/alice/2fa/bypass"
    assert api.client.post(path, json={"note": NOTE},
                           headers=api.auth("verify")).status_code == 403
    short = api.client.post(path, json={"note": "ok"}, headers=api.auth("admin"))
    assert (short.status_code, short.json()["error"]) == (400, "invalid_input")
    assert api.client.post("/api/v1/users/nobody/2fa/bypass", json={"note": NOTE},
                           headers=api.auth("admin")).status_code == 404
    issued = api.client.post(path, json={"note": NOTE}, headers=api.auth("admin"))
    assert issued.status_code == 201, issued.text
    assert issued.headers["cache-control"] == "no-store"
    code = issued.json()["code"]
    event = audit.query_audit(api.ctx, kind="bypass.issued")[0]
    assert (event.source, event.detail["note"]) == ("api", NOTE)
    assert code not in event.to_json()
    factor = bypass.verify_recovery_or_bypass_code(api.ctx, OPERATOR, user.id, code)
    assert factor.method == "bypass"


def test_an_app_that_ignored_the_settings_is_a_400(engine: Engine, tmp_path: Path) -> None:
    """With SHA512/8/60 configured, confirming with the standard code of the same secret is
    ``app_ignored_settings`` naming the parameters."""
    with api_harness(engine, tmp_path) as base:
        settings = base.ctx.settings.with_overrides(
            otp_algorithm="SHA512", otp_digits=8, otp_period=60
        )
        ctx = dataclasses.replace(base.ctx, settings=settings)
        with TestClient(create_app(settings, ctx=ctx), base_url="http://127.0.0.1") as client:
            base.user("alice")
            headers = base.auth("enrol")
            started = client.post("/api/v1/users/alice/enrolments", json={"name": "Phone"},
                                  headers=headers)
            assert started.status_code == 201, started.text
            body = started.json()
            secret = secret_of(body["otpauth_uri"])
            standard = pyotp.TOTP(secret).at(int(base.clock.now()))
            refused = client.post(
                f"/api/v1/users/alice/enrolments/{body['credential_id']}/confirm",
                json={"code": standard, "name": "Phone"}, headers=headers,
            )
            assert refused.status_code == 400
            assert refused.json()["error"] == "app_ignored_settings"
            assert "SHA512, 8 digits, 60 s" in refused.json()["message"]
