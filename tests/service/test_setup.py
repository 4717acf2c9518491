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


def _stored_hash(ctx: Context) -> str | None:
    with transaction(ctx.session_factory) as s:
        return repo.get_setting(s, setup.SETUP_TOKEN_KEY)


def test_setup_creates_the_first_admin_and_consumes_the_token(
    ctx: Context, web: Origin
) -> None:
    """A valid token creates an active admin, is deleted, and the event is audited."""
    assert setup.setup_token_needed(ctx) is True
    token = setup.issue_setup_token(ctx)
    assert token is not None
    assert _stored_hash(ctx) == hash_token(token)
    step = setup.complete_setup(ctx, web, token, "Root", PASSWORD)
    view = step.user
    assert (view.username, view.is_admin, view.is_active) == ("root", True, True)
    assert _stored_hash(ctx) is None
    assert setup.setup_token_needed(ctx) is False
    kinds = {e.kind for e in audit.query_audit(ctx, username="root")}
    assert kinds == {"setup.completed", "user.created"}


def test_a_new_token_replaces_the_old_one(ctx: Context, web: Origin) -> None:
    """Issuing again invalidates the earlier token."""
    first = setup.issue_setup_token(ctx)
    second = setup.issue_setup_token(ctx)
    assert first is not None and second is not None and first != second
    with pytest.raises(NotPermitted):
        setup.complete_setup(ctx, web, first, "root", PASSWORD)
    assert setup.complete_setup(ctx, web, second, "root", PASSWORD).user.is_admin


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
