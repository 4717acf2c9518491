"""JSON API: enrolment, 2FA status, admin reset and the audit log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from test_api_support import ApiHarness, api_harness, secret_of

VERIFY = "/api/v1/verify"


@pytest.fixture
def api(engine: Engine, tmp_path: Path) -> Iterator[ApiHarness]:
    with api_harness(engine, tmp_path) as harness:
        yield harness


def _start(api: ApiHarness, username: str, headers: dict[str, str]) -> dict[str, object]:
    r = api.client.post(f"/api/v1/users/{username}/enrolments", json={"name": "My phone"},
                        headers=headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def _confirm_path(username: str, cred_id: object) -> str:
    return f"/api/v1/users/{username}/enrolments/{cred_id}/confirm"


def test_enrolment_start_and_confirm_turns_2fa_on(api: ApiHarness) -> None:
    """Start returns URI, QR, grouped secret; the first code confirms and gives recovery codes."""
    api.user("alice")
    enrol = api.auth("enrol")
    started = api.client.post("/api/v1/users/alice/enrolments", json={"name": "My phone"},
                              headers=enrol)
    assert started.status_code == 201
    assert started.headers["cache-control"] == "no-store"
    body = started.json()
    secret = secret_of(str(body["otpauth_uri"]))
    assert body["secret"] == secret and body["secret_grouped"].replace(" ", "") == secret
    assert str(body["qr_svg"]).startswith("<svg") and body["account"] and body["expires_at"]
    status = api.client.get("/api/v1/users/alice/2fa", headers=enrol).json()
    assert status["enabled"] is False and status["authenticators"] == []

    r = api.client.post(_confirm_path("alice", body["credential_id"]),
                        json={"code": api.code(secret), "name": "My phone"}, headers=enrol)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    codes = r.json()["recovery_codes"]
    assert len(codes) == api.ctx.settings.recovery_code_count and len(set(codes)) == len(codes)

    status = api.client.get("/api/v1/users/alice/2fa", headers=enrol).json()
    assert status["enabled"] is True and status["recovery_codes_left"] == len(codes)
    assert [a["name"] for a in status["authenticators"]] == ["My phone"]
    assert status["locked_until"] is None


def test_second_authenticator_gives_no_new_recovery_codes(api: ApiHarness) -> None:
    """Confirming a second authenticator keeps the existing recovery codes: empty list."""
    api.enrolled("alice")
    enrol = api.auth("enrol")
    body = _start(api, "alice", enrol)
    secret = secret_of(str(body["otpauth_uri"]))
    r = api.client.post(_confirm_path("alice", body["credential_id"]),
                        json={"code": api.code(secret), "name": "Backup"}, headers=enrol)
    assert r.status_code == 200 and r.json()["recovery_codes"] == []
    status = api.client.get("/api/v1/users/alice/2fa", headers=enrol).json()
    assert len(status["authenticators"]) == 2


def test_confirm_with_a_wrong_code_is_401_and_changes_nothing(api: ApiHarness) -> None:
    """A wrong first code leaves 2FA off."""
    api.user("alice")
    enrol = api.auth("enrol")
    body = _start(api, "alice", enrol)
    secret = secret_of(str(body["otpauth_uri"]))
    r = api.client.post(_confirm_path("alice", body["credential_id"]),
                        json={"code": api.wrong_code(secret)}, headers=enrol)
    assert r.status_code == 401 and r.json()["error"] == "code_rejected"
    assert api.client.get("/api/v1/users/alice/2fa", headers=enrol).json()["enabled"] is False


def test_confirm_after_expiry_is_409(api: ApiHarness) -> None:
    """An enrolment confirmed after it expired: 409 enrolment_expired."""
    api.user("alice")
    enrol = api.auth("enrol")
    body = _start(api, "alice", enrol)
    api.clock.advance(api.ctx.settings.pending_enrolment_seconds + 60)
    secret = secret_of(str(body["otpauth_uri"]))
    r = api.client.post(_confirm_path("alice", body["credential_id"]),
                        json={"code": api.code(secret)}, headers=enrol)
    assert r.status_code == 409 and r.json()["error"] == "enrolment_expired"


def test_confirm_of_another_users_enrolment_is_404(api: ApiHarness) -> None:
    """A credential id that is not the user's pending enrolment: 404."""
    api.user("alice")
    api.user("bob")
    enrol = api.auth("enrol")
    body = _start(api, "alice", enrol)
    secret = secret_of(str(body["otpauth_uri"]))
    r = api.client.post(_confirm_path("bob", body["credential_id"]),
                        json={"code": api.code(secret)}, headers=enrol)
    assert r.status_code == 404 and r.json()["error"] == "not_found"


def test_confirm_twice_is_409(api: ApiHarness) -> None:
    """Confirming an already confirmed authenticator again: 409."""
    api.user("alice")
    enrol = api.auth("enrol")
    body = _start(api, "alice", enrol)
    secret = secret_of(str(body["otpauth_uri"]))
    path = _confirm_path("alice", body["credential_id"])
    assert api.client.post(path, json={"code": api.code(secret)}, headers=enrol).status_code == 200
    api.clock.advance(30)
    r = api.client.post(path, json={"code": api.code(secret)}, headers=enrol)
    assert r.status_code == 409


@pytest.mark.parametrize("path", ["/api/v1/users/nobody/enrolments", "/api/v1/users/nobody/2fa"])
def test_unknown_user_is_404(api: ApiHarness, path: str) -> None:
    """Enrolment or status of a user that does not exist: 404 not_found."""
    headers = api.auth("enrol")
    r = (api.client.post(path, json={}, headers=headers) if path.endswith("enrolments")
         else api.client.get(path, headers=headers))
    assert r.status_code == 404 and r.json()["error"] == "not_found"


def test_recovery_code_through_the_api_works_once(api: ApiHarness) -> None:
    """A recovery code from the confirmation verifies once, then is refused."""
    api.user("alice")
    enrol = api.auth("enrol")
    body = _start(api, "alice", enrol)
    secret = secret_of(str(body["otpauth_uri"]))
    codes = api.client.post(_confirm_path("alice", body["credential_id"]),
                            json={"code": api.code(secret)}, headers=enrol).json()["recovery_codes"]
    verify = api.auth("verify")
    payload = {"username": "alice", "recovery_code": codes[0]}
    r = api.client.post(VERIFY, json=payload, headers=verify)
    assert r.status_code == 200, r.text
    assert r.json()["method"] == "recovery" and r.json()["recovery_codes_left"] == len(codes) - 1
    again = api.client.post(VERIFY, json=payload, headers=verify)
    assert again.status_code == 401


def test_admin_reset_needs_a_note_then_removes_2fa(api: ApiHarness) -> None:
    """A reset without a proper note is 400; with it 2FA is off and the event is audited."""
    _, secret = api.enrolled("alice")
    admin = api.auth("admin")
    short = api.client.post("/api/v1/users/alice/2fa/reset", json={"note": "ok"}, headers=admin)
    assert short.status_code == 400 and short.json()["error"] == "invalid_input"
    missing = api.client.post("/api/v1/users/alice/2fa/reset", json={}, headers=admin)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    note = "Called back on the phone number in the HR file."
    r = api.client.post("/api/v1/users/alice/2fa/reset", json={"note": note}, headers=admin)
    assert r.status_code == 200 and r.json() == {"reset": True, "username": "alice"}
    assert api.client.get("/api/v1/users/alice/2fa", headers=admin).json()["enabled"] is False
    code = api.client.post(VERIFY, json={"username": "alice", "code": api.code(secret)},
                           headers=api.auth("verify"))
    assert code.status_code == 409 and code.json()["error"] == "not_enrolled"
    events = api.client.get("/api/v1/audit", params={"kind": "2fa.reset"}, headers=admin).json()
    (event,) = events["events"]
    assert event["subject"] == "alice" and event["source"] == "api"
    assert event["detail"]["note"] == note


def test_admin_reset_of_unknown_user_is_404(api: ApiHarness) -> None:
    """Resetting a user that does not exist: 404."""
    r = api.client.post("/api/v1/users/nobody/2fa/reset",
                        json={"note": "Checked the badge in person."}, headers=api.auth("admin"))
    assert r.status_code == 404


def test_audit_filters_and_pages(api: ApiHarness) -> None:
    """The audit query filters by user and kind, pages by limit, newest first."""
    api.enrolled("alice")
    api.enrolled("bob")
    admin = api.auth("admin")
    everything = api.client.get("/api/v1/audit", headers=admin).json()["events"]
    assert len(everything) >= 4
    assert [e["at"] for e in everything] == sorted((e["at"] for e in everything), reverse=True)
    alice = api.client.get("/api/v1/audit", params={"user": "alice"}, headers=admin).json()
    assert alice["events"] and {e["subject"] for e in alice["events"]} == {"alice"}
    page = api.client.get("/api/v1/audit", params={"limit": 1, "offset": 1}, headers=admin)
    assert page.json()["events"] == everything[1:2]
    kind = api.client.get("/api/v1/audit", params={"kind": "2fa.enabled"}, headers=admin).json()
    assert {e["kind"] for e in kind["events"]} == {"2fa.enabled"}
    future = api.client.get("/api/v1/audit", params={"since": "2100-01-01T00:00:00Z"},
                            headers=admin).json()
    assert future["events"] == []


@pytest.mark.parametrize(
    ("params", "status", "error"),
    [
        ({"kind": "no.such.kind"}, 400, "invalid_input"),
        ({"since": "2030-01-01T00:00:00"}, 400, "invalid_request"),
        ({"limit": 0}, 400, "invalid_request"),
        ({"limit": "many"}, 400, "invalid_request"),
        ({"user": "nobody"}, 404, "not_found"),
    ],
)
def test_audit_bad_filters(
    api: ApiHarness, params: dict[str, str | int], status: int, error: str
) -> None:
    """Bad audit filters are refused with the right status, in JSON and in JSON lines."""
    admin = api.auth("admin")
    for accept in ("application/json", "application/x-ndjson"):
        r = api.client.get("/api/v1/audit", params=params, headers={**admin, "Accept": accept})
        assert r.status_code == status and r.json()["error"] == error


def test_audit_as_json_lines(api: ApiHarness) -> None:
    """With Accept: application/x-ndjson every matching event is one JSON object per line."""
    api.enrolled("alice")
    admin = api.auth("admin")
    r = api.client.get("/api/v1/audit", params={"user": "alice"},
                       headers={**admin, "Accept": "application/x-ndjson"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert lines and {e["subject"] for e in lines} == {"alice"}
    page = api.client.get("/api/v1/audit", params={"user": "alice"}, headers=admin).json()
    assert [e["id"] for e in lines] == [e["id"] for e in page["events"]]
