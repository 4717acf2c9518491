"""``POST /api/v1/verify``: the pure ASGI answer of the usual request (otpgate.web.
api_fast_verify) against the FastAPI route it stands in for.

The same script of requests runs on two apps over two databases seeded alike (same
users, same order, same fixed clock; their secrets differ, so each request is built from
its own app's secret): one app as served, one without the ASGI layer. Every answer must
be the same (status, body, the headers a client reads), and so must the audit rows. The
script covers what the layer answers itself (right, replayed, wrong, malformed, unknown
user, account off, not enrolled, lock) and what it must hand to the route (no, unknown or
unremembered token, missing scope, other content types, large, invalid or unusual
bodies); a count of the layer's own answers shows which was which.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from test_api_support import OPERATOR, ApiHarness, api_harness

from otpgate.service import audit, users
from otpgate.store.db import make_engine
from otpgate.store.schema import upgrade
from otpgate.web import api_fast_verify

VERIFY = "/api/v1/verify"
# Headers a client acts on; the request id and the date differ by nature.
COMPARED_HEADERS = ("content-type", "cache-control", "retry-after", "www-authenticate")

Request = dict[str, Any]
Step = Callable[["Script"], Request]


class Script:
    """One app's side: its harness, its users' secrets and its tokens."""

    def __init__(self, harness: ApiHarness) -> None:
        self.api = harness
        _, self.alice = harness.enrolled("alice")
        self.api.user("bob")  # no second factor
        carol, _ = harness.enrolled("carol")
        users.deactivate_user(harness.ctx, OPERATOR, None, carol.id)
        _, self.dave = harness.enrolled("dave")  # locked out by the script
        self.verify = harness.token("verify")
        self.enrol = harness.token("enrol")
        self.remember(self.verify)

    def remember(self, token: str) -> None:
        """A first request through the route, which remembers a valid token."""
        self.post(token, {"username": "nobody", "code": "000000"})

    def post(self, token: str | None, body: object, **kwargs: Any) -> Any:
        extra = kwargs.pop("headers", {})
        if isinstance(extra, list):  # a header sent twice
            headers: Any = extra
        else:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            headers.update(extra)
        if isinstance(body, bytes):
            return self.api.client.post(VERIFY, content=body, headers=headers, **kwargs)
        return self.api.client.post(VERIFY, json=body, headers=headers, **kwargs)


def _usual(username: str, code: Callable[[Script], str]) -> Step:
    return lambda s: {"token": s.verify, "body": {"username": username, "code": code(s)}}


def _wrong(s: Script) -> str:
    return s.api.wrong_code(s.dave)


# (name, step, answered by the ASGI layer itself)
STEPS: list[tuple[str, Step, bool]] = [
    ("right code", _usual("alice", lambda s: s.api.code(s.alice)), True),
    ("replayed code", _usual("alice", lambda s: s.api.code(s.alice)), True),
    ("older code", _usual("alice", lambda s: s.api.code(s.alice, -1)), True),
    ("wrong code", _usual("alice", lambda s: s.api.wrong_code(s.alice)), True),
    ("next code, name in capitals", _usual("ALICE", lambda s: s.api.code(s.alice, 1)), True),
    ("code with a space", _usual("alice", lambda s: "123 456"), True),
    ("letters", _usual("alice", lambda s: "12a456"), True),
    ("too long for the model", _usual("alice", lambda s: "1" * 65), False),
    ("unknown user", _usual("nobody", lambda s: "123456"), True),
    ("not enrolled", _usual("bob", lambda s: "123456"), True),
    ("deactivated", _usual("carol", lambda s: "123456"), True),
    *[(f"wrong code {i} of dave", _usual("dave", _wrong), True) for i in range(1, 7)],
    ("locked, right code", _usual("dave", lambda s: s.api.code(s.dave)), True),
    ("no token", lambda s: {"token": None, "body": {"username": "alice", "code": "1"}}, False),
    ("unknown token", lambda s: {"token": "otpg_nope", "body": {"username": "alice"}}, False),
    ("token without verify", lambda s: {"token": s.enrol, "body": {"username": "alice",
                                                                     "code": "123456"}}, False),
    ("other scheme", lambda s: {"token": None, "body": {"username": "alice", "code": "1"},
                                "headers": {"Authorization": f"Basic {s.verify}"}}, False),
    ("text/plain", lambda s: {"token": s.verify, "body": b'{"username":"alice","code":"1"}',
                              "headers": {"Content-Type": "text/plain"}}, False),
    ("invalid JSON", lambda s: {"token": s.verify, "body": b'{"username":',
                                "headers": {"Content-Type": "application/json"}}, False),
    ("empty body", lambda s: {"token": s.verify, "body": b"",
                              "headers": {"Content-Type": "application/json"}}, False),
    ("large body", lambda s: {"token": s.verify,
                              "body": {"username": "alice", "code": "1", "x": "y" * 5000}}, False),
    ("extra field", lambda s: {"token": s.verify,
                               "body": {"username": "alice", "code": "123456", "x": 1}}, False),
    ("number as code", lambda s: {"token": s.verify,
                                  "body": {"username": "alice", "code": 123456}}, False),
    ("code and recovery code", lambda s: {"token": s.verify, "body": {
        "username": "alice", "code": "123456", "recovery_code": "abcd-efgh"}}, False),
    ("with the password", lambda s: {"token": s.verify, "body": {
        "username": "alice", "code": s.api.code(s.alice, 1), "password": "wrong"}}, False),
    ("recovery code", lambda s: {"token": s.verify, "body": {
        "username": "alice", "recovery_code": "abcd-efgh-ijkl"}}, False),
    ("array", lambda s: {"token": s.verify, "body": ["alice", "123456"]}, False),
    ("a name twice: the last counts", lambda s: {
        "token": s.verify, "headers": {"Content-Type": "application/json"},
        "body": b'{"username":"bob","username":"alice","code":"%s"}' % (
            s.api.code(s.alice, 1).encode())}, True),
    ("two tokens: the first counts", lambda s: {"token": None, "body": {
        "username": "alice", "code": "123456"},
        "headers": [("Authorization", "Bearer otpg_unknown"),
                    ("Authorization", f"Bearer {s.verify}")]}, False),
    ("lone surrogate", lambda s: {"token": s.verify, "headers": {
        "Content-Type": "application/json"},
        "body": b'{"username":"\\ud800","code":"123456"}'}, False),
]


@pytest.fixture
def second_engine(engine: Engine, tmp_path: Path) -> Iterator[Engine]:
    """Another migrated, empty database on the same backend as ``engine``."""
    with ExitStack() as stack:
        if engine.dialect.name == "sqlite":
            url = f"sqlite:///{tmp_path / 'route.db'}"
        else:
            from conftest import PG_ADMIN_URL
            from db_support import new_postgres_database

            url = stack.enter_context(new_postgres_database(PG_ADMIN_URL, "otpgate_route"))
        other = make_engine(url)
        stack.callback(other.dispose)
        upgrade(other)
        yield other


def _answer(response: Any) -> tuple[int, Any, dict[str, str]]:
    try:
        body = response.json()
    except ValueError:
        body = response.text
    headers = {h: response.headers[h] for h in COMPARED_HEADERS if h in response.headers}
    return response.status_code, body, headers


def _audit_rows(harness: ApiHarness) -> list[tuple[Any, ...]]:
    rows = audit.query_audit(harness.ctx, limit=1000)
    return sorted(
        (row.kind, row.source, row.subject_name, row.client_addr, row.user_agent,
         sorted((k, str(v)) for k, v in row.detail.items() if k != "credential_id"))
        for row in rows
    )


def test_the_asgi_layer_answers_as_the_route(
    engine: Engine, second_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every request of the script gets the same answer from the served app and from the
    FastAPI route alone, and leaves the same audit rows; the usual ones were answered by
    the ASGI layer, the others by the route."""
    answered_here = []
    check = api_fast_verify.FastVerify._check

    async def counted(self: Any, *args: Any) -> Any:
        answered_here.append(True)
        return await check(self, *args)

    monkeypatch.setattr(api_fast_verify.FastVerify, "_check", counted)
    with api_harness(engine, tmp_path / "fast") as fast_api:
        fast = Script(fast_api)
        with monkeypatch.context() as patched:
            patched.setattr(api_fast_verify, "install", lambda *a, **k: None)
            route_harness = api_harness(second_engine, tmp_path / "route")
            route_api = route_harness.__enter__()
        try:
            route = Script(route_api)
            for name, step, here in STEPS:
                before = len(answered_here)
                answers = []
                for side in (fast, route):
                    request = step(side)
                    answers.append(_answer(side.post(
                        request["token"], request["body"], headers=request.get("headers", {})
                    )))
                assert answers[0] == answers[1], name
                assert len(answered_here) - before == (1 if here else 0), name
            assert _audit_rows(fast_api) == _audit_rows(route_api)
        finally:
            route_harness.__exit__(None, None, None)
