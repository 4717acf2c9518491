"""First-admin setup: a one-time token, stored hashed, valid only while no account exists."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from db_support import Dump
from otpgate.security.tokens import hash_token
from otpgate.service import admin, audit, setup, users
from otpgate.service.context import Context, Origin
from otpgate.service.errors import InvalidInput, NotPermitted
from otpgate.service.views import UserView
from otpgate.store import repositories as repo
from otpgate.store.db import transaction

from .conftest import PASSWORD

MakeUser = Callable[..., UserView]


def _stored_hashes(ctx: Context) -> set[str]:
    with transaction(ctx.session_factory) as s:
        keys = repo.settings_like(s, setup.SETUP_TOKEN_PREFIX)
    return {key.removeprefix(setup.SETUP_TOKEN_PREFIX) for key in keys}


def test_setup_creates_the_first_admin_and_consumes_the_token(
    ctx: Context, web: Origin
) -> None:
    """A valid token creates an active admin, is deleted, and the event is audited."""
    assert setup.setup_token_needed(ctx) is True
    token = setup.issue_setup_token(ctx)
    assert token is not None
    assert _stored_hashes(ctx) == {hash_token(token)}
    step = setup.complete_setup(ctx, web, token, "Root", PASSWORD)
    view = step.user
    assert (view.username, view.is_admin, view.is_active) == ("root", True, True)
    assert _stored_hashes(ctx) == set()
    assert setup.setup_token_needed(ctx) is False
    kinds = {e.kind for e in audit.query_audit(ctx, username="root")}
    assert kinds == {"setup.completed", "user.created"}


def test_a_later_token_replaces_the_old_one(ctx: Context, web: Origin) -> None:
    """A token issued a minute after the first (a restart) invalidates the first."""
    first = setup.issue_setup_token(ctx)
    ctx.clock.advance(setup.SETUP_TOKEN_OVERLAP_SECONDS)  # type: ignore[attr-defined]
    second = setup.issue_setup_token(ctx)
    assert first is not None and second is not None and first != second
    assert _stored_hashes(ctx) == {hash_token(second)}
    with pytest.raises(NotPermitted):
        setup.complete_setup(ctx, web, first, "root", PASSWORD)
    assert setup.complete_setup(ctx, web, second, "root", PASSWORD).user.is_admin


@pytest.mark.parametrize("used", [0, 1])
def test_tokens_issued_together_all_work_until_one_is_used(
    ctx: Context, web: Origin, dump: Callable[[], Dump], used: int
) -> None:
    """Two processes starting at once each print a link: either one works, and once it
    has created the admin the other is refused and changes nothing."""
    tokens = [setup.issue_setup_token(ctx), setup.issue_setup_token(ctx)]
    ctx.clock.advance(setup.SETUP_TOKEN_OVERLAP_SECONDS - 1)  # type: ignore[attr-defined]
    assert all(tokens) and len(_stored_hashes(ctx)) == 2
    assert setup.complete_setup(ctx, web, str(tokens[used]), "root", PASSWORD).user.is_admin
    before = dump()
    with pytest.raises(NotPermitted):
        setup.complete_setup(ctx, web, str(tokens[1 - used]), "other", PASSWORD)
    assert dump() == before and _stored_hashes(ctx) == set()


def test_used_token_cannot_be_used_again(
    ctx: Context, web: Origin, dump: Callable[[], Dump]
) -> None:
    """The same link a second time is refused and creates nothing."""
    token = setup.issue_setup_token(ctx)
    assert token is not None
    setup.complete_setup(ctx, web, token, "root", PASSWORD)
    before = dump()
    with pytest.raises(NotPermitted):
        setup.complete_setup(ctx, web, token, "root2", PASSWORD)
    assert dump() == before


def test_no_token_once_a_user_exists(
    ctx: Context, web: Origin, make_user: MakeUser, dump: Callable[[], Dump]
) -> None:
    """With an account in place no token is issued and a token issued earlier stops working."""
    token = setup.issue_setup_token(ctx)
    assert token is not None
    make_user("someone")
    assert setup.setup_token_needed(ctx) is False
    before = dump()
    assert setup.issue_setup_token(ctx) is None
    with pytest.raises(NotPermitted):
        setup.complete_setup(ctx, web, token, "root", PASSWORD)
    assert dump() == before


@pytest.mark.parametrize("token", ["", "wrong-token", None, 42, "x" * 1000])
def test_wrong_token_is_refused(
    ctx: Context, web: Origin, dump: Callable[[], Dump], token: Any
) -> None:
    """A wrong or malformed token is NotPermitted and changes nothing."""
    setup.issue_setup_token(ctx)
    before = dump()
    with pytest.raises(NotPermitted):
        setup.complete_setup(ctx, web, token, "root", PASSWORD)
    assert dump() == before


def test_without_an_issued_token_setup_is_refused(ctx: Context, web: Origin) -> None:
    """No token issued: any token is refused."""
    with pytest.raises(NotPermitted):
        setup.complete_setup(ctx, web, "anything-at-all", "root", PASSWORD)
    assert users.count_users(ctx) == 0


@pytest.mark.parametrize(("username", "password"), [("bad name", PASSWORD), ("root", "short")])
def test_bad_fields_keep_the_token_valid(
    ctx: Context, web: Origin, dump: Callable[[], Dump], username: str, password: str
) -> None:
    """A bad username or weak password is InvalidInput; the token still works afterwards."""
    token = setup.issue_setup_token(ctx)
    assert token is not None
    before = dump()
    with pytest.raises(InvalidInput):
        setup.complete_setup(ctx, web, token, username, password)
    assert dump() == before
    assert setup.complete_setup(ctx, web, token, "root", PASSWORD).user.username == "root"


def test_the_first_admin_is_logged_in_and_must_enrol_by_default(
    ctx: Context, web: Origin
) -> None:
    """Out of the box 2FA is required of admins: setup ends at the enrolment step."""
    token = setup.issue_setup_token(ctx)
    assert token is not None
    step = setup.complete_setup(ctx, web, token, "root", PASSWORD)
    assert (step.needs_second_factor, step.must_enrol) == (False, True)
    assert admin.get_policy(ctx).require_admins is True
