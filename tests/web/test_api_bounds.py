"""JSON API: ids past the database's range, and values the database refuses, are 4xx.

Found by the schemathesis run (test_api_fuzz): on PostgreSQL, where ids are 32-bit, an
enrolment id of 46289994998562 used to be an internal error (500).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from test_api_support import ApiHarness, api_harness

from otpgate.store import errors as store_errors
from otpgate.web.api_errors import error_response


@pytest.fixture
def api(engine: Engine, tmp_path: Path) -> Iterator[ApiHarness]:
    with api_harness(engine, tmp_path) as harness:
        yield harness


@pytest.mark.parametrize("cred_id", [0, 2**31, 46289994998562, 2**63])
@pytest.mark.parametrize(
    ("path", "body", "scope"),
    [
        ("/api/v1/users/alice/enrolments/{id}/confirm", {"code": "123456"}, "enrol"),
        ("/api/v1/users/alice/2fa/resync",
         {"first": "123456", "second": "654321", "credential_id": "{id}"}, "verify"),
    ],
    ids=["confirm-path", "resync-body"],
)
def test_an_id_out_of_range_is_400(
    api: ApiHarness, cred_id: int, path: str, body: dict[str, str], scope: str
) -> None:
    """An authenticator id outside 1..2**31-1, in a path or a body, is refused as invalid
    on both backends (it was a 500 on PostgreSQL)."""
    api.user("alice")
    sent = {key: cred_id if value == "{id}" else value for key, value in body.items()}
    r = api.client.post(path.format(id=cred_id), json=sent, headers=api.auth(scope))
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "invalid_request"


def test_the_largest_id_is_just_not_found(api: ApiHarness) -> None:
    """2**31-1 is a valid id that names nothing: 404."""
    api.user("alice")
    r = api.client.post(
        f"/api/v1/users/alice/enrolments/{2**31 - 1}/confirm",
        json={"code": "123456"},
        headers=api.auth("enrol"),
    )
    assert r.status_code == 404, r.text


def test_openapi_declares_the_id_range(api: ApiHarness) -> None:
    """The document says which ids exist, so generated clients and fuzzers know."""
    doc = api.client.get("/openapi.json").json()
    confirm = doc["paths"]["/api/v1/users/{username}/enrolments/{credential_id}/confirm"]
    (param,) = [p for p in confirm["post"]["parameters"] if p["name"] == "credential_id"]
    assert param["schema"]["minimum"] == 1 and param["schema"]["maximum"] == 2**31 - 1


@pytest.mark.parametrize(
    ("exc", "status", "error"),
    [
        (store_errors.InvalidValue("users: a value does not fit its column"), 400,
         "invalid_input"),
        (store_errors.Conflict("conflict with stored data: duplicate key"), 409, "conflict"),
        (store_errors.NotFound("no row"), 404, "not_found"),
        (store_errors.DatabaseUnavailable("database unavailable: refused"), 503,
         "unavailable"),
    ],
)
def test_store_errors_are_answered_not_crashes(
    exc: store_errors.StoreError, status: int, error: str
) -> None:
    """A value or conflict the database refused is the caller's 4xx, with no detail."""
    response = error_response(exc, now=0.0)
    assert response.status_code == status
    assert bytes(response.body).startswith(f'{{"error":"{error}"'.encode())
    assert b"column" not in bytes(response.body) and b"duplicate" not in bytes(response.body)
