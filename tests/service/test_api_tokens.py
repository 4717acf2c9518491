"""API tokens: creation by admins, hashed storage, authentication, listing, revocation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from db_support import Dump
from otpgate.security.tokens import hash_token
from otpgate.service import api_tokens, audit
from otpgate.service.context import Context, Origin
from otpgate.service.errors import InvalidInput, NotFound, NotPermitted
from otpgate.service.views import UserView
from otpgate.store.db import transaction
from otpgate.store.models import ApiToken

MakeUser = Callable[..., UserView]


def test_created_token_is_shown_once_and_stored_as_a_hash(
    ctx: Context, web: Origin, make_user: MakeUser, dump: Callable[[], Dump]
) -> None:
    """The plain token has the otpg_ prefix; the table holds only its SHA-256 hash."""
    boss = make_user("boss", admin=True)
    token = api_tokens.create_api_token(ctx, web, boss.id, "billing portal", {"verify", "enrol"},
        step_up_at=ctx.now_dt(),
    )
    assert token.startswith("otpg_") and len(token) >= 5 + 43
    with transaction(ctx.session_factory) as s:
        [row] = s.scalars(select(ApiToken)).all()
        assert row.token_hash == hash_token(token)
        assert (row.name, row.scopes, row.created_by) == ("billing portal", "enrol verify", "boss")
    assert token[5:] not in repr(dump())
    [event] = audit.query_audit(ctx, kind="api_token.created")
    assert event.actor_name == "boss"
    assert event.detail == {
        "token_id": row.id,
        "name": "billing portal",
        "scopes": ["enrol", "verify"],
    }


def test_authenticate_returns_scopes_and_marks_use(
    ctx: Context, cli: Origin
) -> None:
    """A valid token yields its scopes and records when it was last used (once a minute)."""
    token = api_tokens.create_api_token(ctx, cli, None, "sso", {"admin"})
    assert api_tokens.list_api_tokens(ctx)[0].last_used_at is None
    first = ctx.now_dt()
    assert api_tokens.authenticate_api_token(ctx, token) == frozenset({"admin"})
    ctx.clock.advance(30)  # type: ignore[attr-defined]
    api_tokens.authenticate_api_token(ctx, token)
    assert api_tokens.list_api_tokens(ctx)[0].last_used_at == first
    ctx.clock.advance(31)  # type: ignore[attr-defined]
    api_tokens.authenticate_api_token(ctx, token)
    assert api_tokens.list_api_tokens(ctx)[0].last_used_at == ctx.now_dt()


@pytest.mark.parametrize(
    "token", ["", "otpg_", "otpg_unknown-token-value", "no-prefix", "otpg_" + "x" * 300, None, 5]
)
def test_authenticate_refuses_unknown_or_malformed_tokens(
    ctx: Context, cli: Origin, dump: Callable[[], Dump], token: Any
) -> None:
    """Anything but a stored, unrevoked token is NotPermitted, without a change."""
    api_tokens.create_api_token(ctx, cli, None, "sso", {"verify"})
    before = dump()
    with pytest.raises(NotPermitted, match="Invalid API token"):
        api_tokens.authenticate_api_token(ctx, token)
    assert dump() == before


def test_revoked_token_stops_working(ctx: Context, web: Origin, make_user: MakeUser) -> None:
    """After revocation the token is refused, the listing shows when, and it is audited once."""
    boss = make_user("boss", admin=True)
    token = api_tokens.create_api_token(ctx, web, boss.id, "old portal", {"verify"},
        step_up_at=ctx.now_dt(),
    )
    keep = api_tokens.create_api_token(ctx, web, boss.id, "new portal", {"verify"},
        step_up_at=ctx.now_dt(),
    )
    [old_view, _] = api_tokens.list_api_tokens(ctx)
    ctx.clock.advance(10)  # type: ignore[attr-defined]
    api_tokens.revoke_api_token(ctx, web, boss.id, old_view.id)
    api_tokens.revoke_api_token(ctx, web, boss.id, old_view.id)  # again: no change
    with pytest.raises(NotPermitted):
        api_tokens.authenticate_api_token(ctx, token)
    assert api_tokens.authenticate_api_token(ctx, keep) == frozenset({"verify"})
    views = api_tokens.list_api_tokens(ctx)
    assert [(v.name, v.revoked_at) for v in views] == [
        ("old portal", ctx.now_dt()),
        ("new portal", None),
    ]
    assert views[0].scopes == frozenset({"verify"}) and views[0].created_by == "boss"
    [event] = audit.query_audit(ctx, kind="api_token.revoked")
    assert event.detail == {"token_id": old_view.id, "name": "old portal"}
    with pytest.raises(NotFound):
        api_tokens.revoke_api_token(ctx, web, boss.id, old_view.id + 100)


@pytest.mark.parametrize(
    ("name", "scopes"),
    [
        ("", {"verify"}),
        ("n" * 101, {"verify"}),
        ("line\nbreak", {"verify"}),
        (None, {"verify"}),
        ("ok", set()),
        ("ok", {"verify", "root"}),
        ("ok", "verify"),
        ("ok", {1}),
        ("ok", None),
    ],
)
def test_create_refuses_bad_names_and_scopes(
    ctx: Context, cli: Origin, dump: Callable[[], Dump], name: Any, scopes: Any
) -> None:
    """Names must be 1-100 printable characters, scopes a non-empty subset of the three."""
    before = dump()
    with pytest.raises(InvalidInput):
        api_tokens.create_api_token(ctx, cli, None, name, scopes)
    assert dump() == before


def test_only_admins_create_or_revoke_tokens(
    ctx: Context, web: Origin, cli: Origin, make_user: MakeUser, dump: Callable[[], Dump]
) -> None:
    """A plain user, or the web without an actor, can neither create nor revoke a token."""
    plain = make_user("plain")
    api_tokens.create_api_token(ctx, cli, None, "sso", {"verify"})
    token_id = api_tokens.list_api_tokens(ctx)[0].id
    before = dump()
    for actor_id in (plain.id, None):
        with pytest.raises(NotPermitted):
            api_tokens.create_api_token(ctx, web, actor_id, "x", {"admin"}, step_up_at=ctx.now_dt())
        with pytest.raises(NotPermitted):
            api_tokens.revoke_api_token(ctx, web, actor_id, token_id)
    assert dump() == before


def test_operator_tokens_name_the_operator(ctx: Context, cli: Origin) -> None:
    """A token created from the CLI records the operator named in the origin."""
    api_tokens.create_api_token(ctx, cli, None, "sso", {"verify"})
    assert api_tokens.list_api_tokens(ctx)[0].created_by == "cli:tester"
