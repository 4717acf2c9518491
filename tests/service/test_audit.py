"""The audit trail: rows written with their use case, queried with filters, exported."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import pytest

from otpgate.service import audit, login
from otpgate.service.context import Context, Origin
from otpgate.service.errors import AuthenticationFailed
from otpgate.service.views import UserView

from .conftest import PASSWORD
from .twofa import clock_of, enrol

MakeUser = Callable[..., UserView]


def test_events_carry_origin_names_and_time(ctx: Context, web: Origin, make_user: MakeUser) -> None:
    """A login event names its subject and copies the client address and user agent."""
    make_user("alice")
    login.check_password(ctx, web, "alice", PASSWORD)
    [event] = audit.query_audit(ctx, username="alice", kind="login.password_ok")
    assert (event.subject_name, event.client_addr, event.user_agent, event.source) == (
        "alice",
        "203.0.113.7",
        "pytest-browser",
        "web",
    )
    assert event.at == ctx.now_dt()


def test_filters_and_newest_first(ctx: Context, web: Origin, make_user: MakeUser) -> None:
    """Events come newest first and filter by user, kind and time window."""
    alice, _ = make_user("alice"), make_user("bob")
    start = ctx.now_dt()
    enrol(ctx, web, alice.id)
    for name in ("alice", "bob"):
        clock_of(ctx).advance(10)
        with pytest.raises(AuthenticationFailed):
            login.check_password(ctx, web, name, "wrong password")
    failed = audit.query_audit(ctx, kind="login.password_failed")
    assert [e.subject_name for e in failed] == ["bob", "alice"]
    assert [e.kind for e in audit.query_audit(ctx, username="alice", since=start)][:2] == [
        "login.password_failed",
        "2fa.enabled",
    ]
    assert audit.query_audit(ctx, until=start) == []
    window = audit.query_audit(ctx, since=ctx.now_dt() - timedelta(seconds=5))
    assert [e.subject_name for e in window] == ["bob"]


def test_no_secret_in_audit_details(ctx: Context, web: Origin, make_user: MakeUser) -> None:
    """Neither recovery codes nor codes nor passwords are written into audit rows."""
    user = make_user("alice")
    phone = enrol(ctx, web, user.id)
    code = phone.code(ctx)
    login.verify_code(ctx, web, user.id, code)
    text = "".join(audit.export_audit_jsonl(ctx))
    for secret in [*phone.recovery_codes, code, PASSWORD, phone.secret_b32]:
        assert secret not in text


def test_export_is_json_lines_of_everything(ctx: Context, web: Origin, make_user: MakeUser) -> None:
    """The export yields one JSON object per line, across pages, newest first."""
    make_user("alice")
    for _ in range(7):
        clock_of(ctx).advance(1)
        with pytest.raises(AuthenticationFailed):
            login.check_password(ctx, web, "alice", "wrong password")
        clock_of(ctx).advance(3600)  # let the password throttle calm down
    lines = list(audit.export_audit_jsonl(ctx, kind="login.password_failed"))
    assert len(lines) == 7 and all(line.endswith("\n") for line in lines)
    rows = [json.loads(line) for line in lines]
    assert [r["kind"] for r in rows] == ["login.password_failed"] * 7
    assert rows == sorted(rows, key=lambda r: r["at"], reverse=True)
    assert rows[0]["detail"]["reason"] == "wrong_password"
