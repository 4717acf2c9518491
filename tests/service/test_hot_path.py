"""The code check's cost, counted not timed: statements per check, the token cache's bound."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, select

from otpgate.service import api_tokens, login
from otpgate.service.clock import FixedClock
from otpgate.service.context import Context, Origin
from otpgate.service.errors import CodeRejected, NotPermitted, RejectReason
from otpgate.service.views import UserView
from otpgate.store.db import make_session_factory, transaction
from otpgate.store.models import AuditEvent, Throttle

from .conftest import T0
from .twofa import clock_of, enrol, wrong_code

MakeUser = Callable[..., UserView]

# A successful check: BEGIN IMMEDIATE (SQLite only), the user with its active
# authenticators and both throttle counters (taking the account's row lock on PostgreSQL),
# the conditional UPDATE of the last step (returning the recovery codes left), the audit
# row (on PostgreSQL in the UPDATE's statement).
MAX_STATEMENTS_PER_SUCCESS = {"sqlite": 4, "postgresql": 2}
# A wrong code: the same read, one upsert counting the failure on both counters (setting
# any lock, and on PostgreSQL noting the change on the user's row), the INSERT of the
# audit rows (on PostgreSQL in the upsert's statement): as lean as a success.
MAX_STATEMENTS_PER_FAILURE = {"sqlite": 4, "postgresql": 2}


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """Every statement the engine sends inside the block (first words only)."""
    seen: list[str] = []

    def on_execute(*args: Any) -> None:
        seen.append(" ".join(str(args[2]).split()[:3]))

    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)


def test_successful_check_stays_within_its_statement_budget(
    ctx: Context, engine: Engine, web: Origin, make_user: MakeUser
) -> None:
    """A correct code costs at most 4 statements (2 on PostgreSQL), none writing a throttle."""
    user = make_user("alice")
    phone = enrol(ctx, web, user.id)
    with statements(engine) as seen:
        name, factor = login.verify_code_by_name(ctx, web, "Alice", phone.code(ctx))
    assert (name, factor.method) == ("alice", "totp")
    assert len(seen) <= MAX_STATEMENTS_PER_SUCCESS[engine.dialect.name], seen
    assert not [s for s in seen if "throttles" in s and not s.startswith("SELECT")], seen
    commits_or_begins = [s for s in seen if s.startswith(("BEGIN", "SAVEPOINT"))]
    assert len(commits_or_begins) <= 1, seen


@pytest.mark.parametrize("failures_before", [0, 2])
def test_wrong_code_stays_within_its_statement_budget(
    ctx: Context, engine: Engine, web: Origin, make_user: MakeUser, failures_before: int
) -> None:
    """A wrong code costs as few statements as a success, also the one that locks (the
    third from one address): counted on both scopes, audited, one transaction."""
    user = make_user("alice")
    phone = enrol(ctx, web, user.id)
    for seed in range(failures_before):
        with pytest.raises(CodeRejected):
            login.verify_code(ctx, web, user.id, wrong_code(phone.totp, ctx.clock.now(), seed))
    with statements(engine) as seen, pytest.raises(CodeRejected) as refused:
        login.verify_code(ctx, web, user.id, wrong_code(phone.totp, ctx.clock.now(), 9))
    assert refused.value.reason is RejectReason.WRONG
    assert len(seen) <= MAX_STATEMENTS_PER_FAILURE[engine.dialect.name], seen
    with transaction(ctx.session_factory) as s:
        scopes = {t.scope: (t.failures, t.locked_until) for t in s.scalars(select(Throttle))}
        kinds = [e.kind for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    pair = f"user:{user.id}|code|{web.client_addr}"
    expected_lock = ctx.now_dt() + timedelta(seconds=30) if failures_before == 2 else None
    assert scopes == {
        f"user:{user.id}|code": (failures_before + 1, None),
        pair: (failures_before + 1, expected_lock),
    }
    assert kinds[-1 - (expected_lock is not None):] == [
        "login.code_failed", *(["login.locked"] if expected_lock else [])
    ]


def test_success_is_audited_once_and_a_replay_not_at_all(
    ctx: Context, web: Origin, make_user: MakeUser
) -> None:
    """The login.ok row written with the step's UPDATE is there once; a replay adds none."""
    user = make_user("carol")
    phone = enrol(ctx, web, user.id)
    code = phone.code(ctx)
    factor = login.verify_code(ctx, web, user.id, code)
    with pytest.raises(CodeRejected) as refused:
        login.verify_code(ctx, web, user.id, code)
    assert refused.value.reason is RejectReason.REPLAYED
    with transaction(ctx.session_factory) as s:
        rows = list(s.scalars(select(AuditEvent).where(AuditEvent.kind == "login.ok")))
    assert [(r.subject_id, r.subject_name, r.source, r.detail) for r in rows] == [
        (
            user.id,
            "carol",
            "web",
            {"method": "totp", "credential_id": factor.credential_id, "credential": "My phone"},
        )
    ]
    assert rows[0].at == ctx.now_dt()


def test_success_after_failures_forgets_only_the_address(
    ctx: Context, engine: Engine, web: Origin, make_user: MakeUser
) -> None:
    """With failures recorded, a success clears the address's counter and keeps the account's."""
    user = make_user("bob")
    phone = enrol(ctx, web, user.id)
    with pytest.raises(CodeRejected):
        login.verify_code(ctx, web, user.id, wrong_code(phone.totp, ctx.clock.now(), 1))
    login.verify_code(ctx, web, user.id, phone.code(ctx))
    with transaction(ctx.session_factory) as s:
        scopes = {t.scope: t.failures for t in s.scalars(select(Throttle))}
    assert scopes == {f"user:{user.id}|code": 1}


def _second_process(ctx: Context, engine: Engine) -> Context:
    return Context(
        settings=ctx.settings,
        session_factory=make_session_factory(engine),
        keyring=ctx.keyring,
        hasher=ctx.hasher,
        clock=FixedClock(T0),
    )


def test_revoked_token_is_refused_at_once_here_and_within_the_cache_time_elsewhere(
    ctx: Context, engine: Engine, cli: Origin
) -> None:
    """Another process refuses a revoked token at the latest CACHE_SECONDS after its last check."""
    other = _second_process(ctx, engine)
    token = api_tokens.create_api_token(ctx, cli, None, "portal", {"verify"})
    assert api_tokens.authenticate_api_token(other, token) == {"verify"}
    [view] = api_tokens.list_api_tokens(ctx)
    api_tokens.revoke_api_token(ctx, cli, None, view.id)
    with pytest.raises(NotPermitted):
        api_tokens.authenticate_api_token(ctx, token)
    clock_of(other).advance(api_tokens.CACHE_SECONDS)
    with pytest.raises(NotPermitted):
        api_tokens.authenticate_api_token(other, token)


def test_token_cache_is_not_fooled_by_a_clock_going_back(
    ctx: Context, engine: Engine, cli: Origin
) -> None:
    """An entry checked "in the future" is stale, so a revocation is still seen."""
    other = _second_process(ctx, engine)
    token = api_tokens.create_api_token(ctx, cli, None, "portal", {"verify"})
    api_tokens.authenticate_api_token(other, token)
    [view] = api_tokens.list_api_tokens(ctx)
    api_tokens.revoke_api_token(ctx, cli, None, view.id)
    clock_of(other).set(T0 - 1)
    with pytest.raises(NotPermitted):
        api_tokens.authenticate_api_token(other, token)


def test_cached_token_check_opens_no_transaction(ctx: Context, engine: Engine, cli: Origin) -> None:
    """Within the cache time a second check of the same token sends no statement."""
    token = api_tokens.create_api_token(ctx, cli, None, "portal", {"verify", "admin"})
    api_tokens.authenticate_api_token(ctx, token)
    clock_of(ctx).advance(api_tokens.CACHE_SECONDS / 2)
    with statements(engine) as seen:
        assert api_tokens.authenticate_api_token(ctx, token) == {"verify", "admin"}
    assert seen == []


def test_cached_scopes_answer_only_from_memory(ctx: Context, engine: Engine, cli: Origin) -> None:
    """cached_scopes is None until a check, the scopes after it, None again after revocation."""
    token = api_tokens.create_api_token(ctx, cli, None, "portal", {"verify"})
    with statements(engine) as seen:
        assert api_tokens.cached_scopes(ctx, token) is None
        assert api_tokens.cached_scopes(ctx, "not-a-token") is None
    assert seen == []
    api_tokens.authenticate_api_token(ctx, token)
    assert api_tokens.cached_scopes(ctx, token) == frozenset({"verify"})
    [view] = api_tokens.list_api_tokens(ctx)
    api_tokens.revoke_api_token(ctx, cli, None, view.id)
    assert api_tokens.cached_scopes(ctx, token) is None
