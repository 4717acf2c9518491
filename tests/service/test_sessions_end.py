"""A 2FA reset, turning 2FA off, a password change and a deactivation end the user's
sessions at once, for the portal and for forward auth; the acting browser's own session
can be kept (the adapter rotates it). Trusted devices survive a password change only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest

from otpgate.service import admin, enrolment, login, users
from otpgate.service import web_sessions as ws
from otpgate.service.context import Context, Origin
from otpgate.service.site_access import session_identity
from otpgate.service.views import UserView

from .conftest import PASSWORD
from .twofa import Enrolled, enrol

MakeUser = Callable[..., UserView]
NOTE = "called back on the number on file"
NEW_PASSWORD = "a brand new long passphrase"


def _full_session(ctx: Context, origin: Origin, user_id: int) -> str:
    """A logged-in browser of the user: the cookie value of a full session."""
    anonymous, _ = ws.start_session(ctx, origin)
    token, _ = ws.rotate_session(ctx, origin, anonymous, level="full", user_id=user_id)
    return token


def _alive(ctx: Context, token: str) -> bool:
    """Whether the portal and the forward-auth endpoint still accept the cookie."""
    portal = ws.load_session(ctx, token) is not None
    proxy = session_identity(ctx, token, require_2fa=False) is not None
    assert portal == proxy
    return portal


def _hash(ctx: Context, token: str) -> str:
    view = ws.load_session(ctx, token)
    assert view is not None
    return view.id_hash


@pytest.fixture
def alice(ctx: Context, web: Origin, make_user: MakeUser) -> tuple[UserView, Enrolled]:
    user = make_user("alice")
    return user, enrol(ctx, web, user.id)


def test_an_admin_reset_ends_every_session_of_the_user(
    ctx: Context, web: Origin, cli: Origin, make_user: MakeUser,
    alice: tuple[UserView, Enrolled],
) -> None:
    """Both of alice's browsers are logged out at once; another user's session lives."""
    user, _ = alice
    first, second = _full_session(ctx, web, user.id), _full_session(ctx, web, user.id)
    bob = make_user("bob")
    bobs = _full_session(ctx, web, bob.id)
    assert _alive(ctx, first) and _alive(ctx, second)
    admin.reset_2fa(ctx, cli, None, user.id, NOTE)
    assert not _alive(ctx, first) and not _alive(ctx, second)
    assert _alive(ctx, bobs)


def test_turning_2fa_off_keeps_only_the_acting_session(
    ctx: Context, web: Origin, alice: tuple[UserView, Enrolled]
) -> None:
    """The browser that turned 2FA off stays; the other one, and trusted devices, go."""
    user, phone = alice
    here, elsewhere = _full_session(ctx, web, user.id), _full_session(ctx, web, user.id)
    device = login.trust_device(ctx, web, user.id, "laptop")
    enrolment.disable_2fa(ctx, web, user.id, PASSWORD, phone.code(ctx),
                          keep_session=_hash(ctx, here))
    assert _alive(ctx, here) and not _alive(ctx, elsewhere)
    assert not login.check_trusted_device(ctx, web, user.id, device)


def test_removing_the_last_authenticator_ends_the_other_sessions(
    ctx: Context, web: Origin, alice: tuple[UserView, Enrolled]
) -> None:
    """Removing the last authenticator is turning 2FA off: same sessions rule."""
    user, phone = alice
    here, elsewhere = _full_session(ctx, web, user.id), _full_session(ctx, web, user.id)
    enrolment.remove_credential(
        ctx, web, user.id, phone.credential_id, step_up_at=None, code=phone.code(ctx),
        password=PASSWORD, keep_session=_hash(ctx, here),
    )
    assert _alive(ctx, here) and not _alive(ctx, elsewhere)


def test_a_password_change_ends_other_sessions_and_keeps_trusted_devices(
    ctx: Context, web: Origin, alice: tuple[UserView, Enrolled]
) -> None:
    """The changing browser stays in; other sessions end; a trusted device still skips the
    code (the new password is still asked)."""
    user, _ = alice
    here, elsewhere = _full_session(ctx, web, user.id), _full_session(ctx, web, user.id)
    device = login.trust_device(ctx, web, user.id, "laptop")
    users.change_password(ctx, web, user.id, PASSWORD, NEW_PASSWORD,
                          keep_session=_hash(ctx, here))
    assert _alive(ctx, here) and not _alive(ctx, elsewhere)
    assert login.check_trusted_device(ctx, web, user.id, device)


@pytest.mark.parametrize("action", ["set_password", "deactivate"])
def test_an_admin_password_or_deactivation_ends_every_session(
    ctx: Context, web: Origin, make_user: MakeUser, alice: tuple[UserView, Enrolled],
    action: str,
) -> None:
    """An admin setting the password or disabling the account logs the user out everywhere."""
    user, _ = alice
    boss = make_user("boss", admin=True)
    sessions = [_full_session(ctx, web, user.id) for _ in range(2)]
    now: datetime = ctx.now_dt()
    if action == "set_password":
        users.set_password(ctx, web, boss.id, user.id, NEW_PASSWORD, step_up_at=now)
    else:
        users.deactivate_user(ctx, web, boss.id, user.id, step_up_at=now)
    assert not any(_alive(ctx, token) for token in sessions)
