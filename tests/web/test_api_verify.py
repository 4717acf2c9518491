"""JSON API: the verify endpoint, tokens and scopes, error shapes, and the documentation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import APIRouter
from sqlalchemy import Engine
from test_api_support import PASSWORD, ApiHarness, api_harness

from otpgate.service import api_tokens
from otpgate.service.context import Origin
from otpgate.web.api_errors import ApiRoute

VERIFY = "/api/v1/verify"


@pytest.fixture
def api(engine: Engine, tmp_path: Path) -> Iterator[ApiHarness]:
    with api_harness(engine, tmp_path) as harness:
        yield harness


def _error(response: object) -> dict[str, object]:
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) >= {"error", "message"}
    assert "\n" not in body["message"] and "Traceback" not in body["message"]
    return body  # type: ignore[no-any-return]


def test_verify_accepts_a_current_code(api: ApiHarness) -> None:
    """A correct code for an enrolled user gives 200 with the method and drift."""
    _, secret = api.enrolled("alice")
    r = api.client.post(VERIFY, json={"username": "alice", "code": api.code(secret)},
                        headers=api.auth("verify"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ok"] is True and body["method"] == "totp" and body["username"] == "alice"
    assert body["drift_seconds"] == 0
    assert isinstance(body["credential_id"], int)
    assert "set-cookie" not in r.headers  # the API is stateless: no portal session


def test_verify_reports_drift_of_a_code_one_step_behind(api: ApiHarness) -> None:
    """A code of the previous step is accepted and reported about 30 s behind."""
    _, secret = api.enrolled("alice")
    r = api.client.post(VERIFY, json={"username": "alice", "code": api.code(secret, -1)},
                        headers=api.auth("verify"))
    assert r.status_code == 200, r.text
    assert r.json()["drift_seconds"] < 0


def test_verify_refuses_a_replayed_code(api: ApiHarness) -> None:
    """The same code twice through the API: the second is 401 code_rejected/replayed."""
    _, secret = api.enrolled("alice")
    headers = api.auth("verify")
    payload = {"username": "alice", "code": api.code(secret)}
    assert api.client.post(VERIFY, json=payload, headers=headers).status_code == 200
    r = api.client.post(VERIFY, json=payload, headers=headers)
    assert r.status_code == 401
    assert _error(r)["error"] == "code_rejected"
    assert r.json()["reason"] == "replayed"


def test_verify_refuses_a_wrong_code(api: ApiHarness) -> None:
    """A well-formed wrong code is 401 code_rejected with reason wrong."""
    _, secret = api.enrolled("alice")
    r = api.client.post(VERIFY, json={"username": "alice", "code": api.wrong_code(secret)},
                        headers=api.auth("verify"))
    assert r.status_code == 401
    assert _error(r)["error"] == "code_rejected" and r.json()["reason"] == "wrong"


def test_verify_refuses_a_malformed_code_as_bad_input(api: ApiHarness) -> None:
    """A code with a letter is 400 code_rejected/malformed, before any check."""
    api.enrolled("alice")
    r = api.client.post(VERIFY, json={"username": "alice", "code": "12a456"},
                        headers=api.auth("verify"))
    assert r.status_code == 400
    assert _error(r)["error"] == "code_rejected" and r.json()["reason"] == "malformed"


def test_verify_locks_after_repeated_failures_even_for_a_correct_code(api: ApiHarness) -> None:
    """Wrong codes end in 423 locked with until and Retry-After; a correct code is refused."""
    _, secret = api.enrolled("alice")
    headers = api.auth("verify")
    statuses = []
    for _ in range(100):
        r = api.client.post(VERIFY, json={"username": "alice", "code": api.wrong_code(secret)},
                            headers=headers)
        statuses.append(r.status_code)
        if r.status_code == 423:
            break
    assert statuses[-1] == 423 and set(statuses[:-1]) <= {401}
    r = api.client.post(VERIFY, json={"username": "alice", "code": api.code(secret)},
                        headers=headers)
    assert r.status_code == 423
    assert _error(r)["error"] == "locked" and "until" in r.json()
    assert int(r.headers["retry-after"]) >= 1
    status = api.client.get("/api/v1/users/alice/2fa", headers=headers).json()
    assert status["locked_until"] is not None


def test_verify_with_password_and_code(api: ApiHarness) -> None:
    """Password and code together: 200 when both are right."""
    _, secret = api.enrolled("alice")
    r = api.client.post(
        VERIFY, json={"username": "alice", "password": PASSWORD, "code": api.code(secret)},
        headers=api.auth("verify"),
    )
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("username", ["alice", "nobody"])
def test_verify_with_a_wrong_password_is_authentication_failed(
    api: ApiHarness, username: str
) -> None:
    """A wrong password, or an unknown user with a password, gives the same 401."""
    _, secret = api.enrolled("alice")
    r = api.client.post(
        VERIFY, json={"username": username, "password": "not the password", "code":
                      api.code(secret)},
        headers=api.auth("verify"),
    )
    assert r.status_code == 401
    assert _error(r)["error"] == "authentication_failed"


def test_verify_unknown_user_without_password_is_404(api: ApiHarness) -> None:
    """Code alone for a user that does not exist: 404 not_found."""
    r = api.client.post(VERIFY, json={"username": "nobody", "code": "123456"},
                        headers=api.auth("verify"))
    assert r.status_code == 404 and _error(r)["error"] == "not_found"


def test_verify_user_without_2fa_is_409(api: ApiHarness) -> None:
    """A user with no authenticator cannot pass a code check: 409 not_enrolled."""
    api.user("bob")
    r = api.client.post(VERIFY, json={"username": "bob", "code": "123456"},
                        headers=api.auth("verify"))
    assert r.status_code == 409 and _error(r)["error"] == "not_enrolled"


def test_missing_token_is_401_with_challenge(api: ApiHarness) -> None:
    """No Authorization header: 401 missing_token and a Bearer challenge."""
    r = api.client.post(VERIFY, json={"username": "alice", "code": "123456"})
    assert r.status_code == 401 and _error(r)["error"] == "missing_token"
    assert r.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Bearer otpg_not-a-real-token", "Bearer x", "Bearer " +
                                    "otpg_" + "a" * 400])
def test_unknown_token_is_401(api: ApiHarness, header: str) -> None:
    """An unknown, malformed or oversized token: 401 invalid_token."""
    r = api.client.post(VERIFY, json={"username": "alice", "code": "123456"},
                        headers={"Authorization": header})
    assert r.status_code == 401 and _error(r)["error"] == "invalid_token"


def test_revoked_token_is_401(api: ApiHarness) -> None:
    """A token revoked by an admin stops working at once."""
    token = api.token("verify")
    (row,) = api_tokens.list_api_tokens(api.ctx)
    api_tokens.revoke_api_token(api.ctx, Origin("cli"), None, row.id)
    r = api.client.get("/api/v1/users/alice/2fa", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and _error(r)["error"] == "invalid_token"


@pytest.mark.parametrize(
    ("scope", "method", "path"),
    [
        ("admin", "POST", VERIFY),
        ("verify", "POST", "/api/v1/users/alice/enrolments"),
        ("admin", "POST", "/api/v1/users/alice/enrolments"),
        ("enrol", "POST", "/api/v1/users/alice/2fa/reset"),
        ("verify", "GET", "/api/v1/audit"),
    ],
)
def test_token_without_the_scope_is_403(
    api: ApiHarness, scope: str, method: str, path: str
) -> None:
    """A valid token lacking the endpoint's scope: 403 insufficient_scope, nothing done."""
    api.user("alice")
    r = api.client.request(method, path, json={}, headers=api.auth(scope))
    assert r.status_code == 403 and _error(r)["error"] == "insufficient_scope"


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        ({"username": "alice"}, "exactly one of code and recovery_code"),
        ({"code": "123456"}, "username"),
        ({"username": "alice", "code": 123456}, "code"),
        ({"username": "alice", "code": "123456", "pasword": "x"}, "pasword"),
        ({"username": "", "code": "123456"}, "username"),
    ],
)
def test_invalid_body_is_400_in_one_line(
    api: ApiHarness, payload: dict[str, object], where: str
) -> None:
    """FastAPI's validation errors come out as 400 invalid_request naming the field."""
    r = api.client.post(VERIFY, json=payload, headers=api.auth("verify"))
    assert r.status_code == 400
    body = _error(r)
    assert body["error"] == "invalid_request" and where in str(body["message"])


def test_malformed_json_is_400(api: ApiHarness) -> None:
    """A body that is not JSON: 400 malformed_request."""
    r = api.client.post(VERIFY, content=b"{not json",
                        headers={**api.auth("verify"), "Content-Type": "application/json"})
    assert r.status_code == 400 and _error(r)["error"] == "malformed_request"


def test_unknown_api_path_and_method_are_json(api: ApiHarness) -> None:
    """404 and 405 under /api/ use the JSON error shape; other paths are left alone."""
    r = api.client.get("/api/v1/nothing-here")
    assert r.status_code == 404 and _error(r)["error"] == "not_found"
    r = api.client.get(VERIFY)
    assert r.status_code == 405 and _error(r)["error"] == "method_not_allowed"
    page = api.client.get("/not-the-api")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")


def test_a_bug_in_a_route_is_a_json_500_without_traceback(api: ApiHarness) -> None:
    """An unexpected exception in an API route is 500 internal_error, no traceback."""
    broken = APIRouter(route_class=ApiRoute)

    @broken.get("/api/v1/broken")
    def boom() -> None:
        raise RuntimeError("secret internals")

    api.client.app.api.include_router(broken)  # type: ignore[attr-defined]
    r = api.client.get("/api/v1/broken")
    assert r.status_code == 500 and _error(r)["error"] == "internal_error"
    assert "secret internals" not in r.text


def test_openapi_documents_every_endpoint(api: ApiHarness) -> None:
    """/openapi.json lists each endpoint with a summary, the token scheme and 400s, no 422."""
    doc = api.client.get("/openapi.json").json()
    expected = {
        ("post", "/api/v1/verify"),
        ("post", "/api/v1/users/{username}/enrolments"),
        ("post", "/api/v1/users/{username}/enrolments/{credential_id}/confirm"),
        ("get", "/api/v1/users/{username}/2fa"),
        ("post", "/api/v1/users/{username}/2fa/reset"),
        ("post", "/api/v1/users/{username}/2fa/resync"),
        ("post", "/api/v1/users/{username}/2fa/bypass"),
        ("get", "/api/v1/audit"),
    }
    found = {(m, p) for p, item in doc["paths"].items() if p.startswith("/api/") for m in item}
    assert found == expected
    for method, path in expected:
        op = doc["paths"][path][method]
        assert op["summary"] and op["description"]
        assert {"400", "401", "403"} <= set(op["responses"]) and "422" not in op["responses"]
        assert op["security"] == [{"ApiToken": []}]
    assert doc["components"]["securitySchemes"]["ApiToken"]["scheme"] == "bearer"


def test_docs_page_lists_endpoints_without_scripts(api: ApiHarness) -> None:
    """/api/docs is server-rendered HTML naming every endpoint, with no script or CDN."""
    r = api.client.get("/api/docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    for path in ("/api/v1/verify", "/api/v1/users/{username}/2fa/reset", "/api/v1/audit"):
        assert path in r.text
    assert "<script" not in r.text and "style=" not in r.text and "https://" not in r.text
