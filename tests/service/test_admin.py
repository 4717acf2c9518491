"""Admin use cases: 2FA reset with an identity-check note, unlock, lock state, policy."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from db_support import Dump
from otpgate.service import admin, audit
from otpgate.service.context import Context, Origin
from otpgate.service.errors import InvalidInput, NotFound, NotPermitted
from otpgate.service.throttle import account_scope, name_scopes, pair_scope
from otpgate.service.views import Policy, UserView
from otpgate.store import repositories as repo
from otpgate.store.db import transaction
from otpgate.store.models import OtpCredential, RecoveryCode, Throttle, TrustedDevice

MakeUser = Callable[..., UserView]
NOTE = "Called back on the phone number on file; confirmed date of birth."


def _give_2fa(ctx: Context, user_id: int, tag: str) -> None:
    """Store two authenticators (one pending), two recovery codes and a trusted device."""
    now = ctx.now_dt()
    with transaction(ctx.session_factory) as s:
        for status in ("active", "pending"):
            repo.add_credential(
                s,
                user_id=user_id,
                kind="totp",
                status=status,
                secret_sealed=b"\x01" * 40,
                key_id="test1",
                created_at=now,
            )
        repo.add_recovery_codes(s, user_id, [f"{tag}-code-1", f"{tag}-code-2"], now)
        repo.add_trusted_device(
            s,
            user_id=user_id,
            token_hash=f"{tag}-device",
            created_at=now,
            expires_at=now + timedelta(days=30),
        )


def _lock(ctx: Context, scope: str, seconds: float) -> datetime:
    until = ctx.now_dt() + timedelta(seconds=seconds)
    with transaction(ctx.session_factory) as s:
        repo.record_failure(s, scope, ctx.now_dt())
        repo.set_lock(s, scope, until)
    return until


def _counts(ctx: Context, user_id: int) -> tuple[int, int, int]:
    with transaction(ctx.session_factory) as s:
        return tuple(  # type: ignore[return-value]
            s.scalar(select(func.count()).select_from(model).where(model.user_id == user_id))
            or 0
            for model in (OtpCredential, RecoveryCode, TrustedDevice)
        )


def _scopes(ctx: Context) -> set[str]:
    with transaction(ctx.session_factory) as s:
        return set(s.scalars(select(Throttle.scope)))


# --- reset_2fa -------------------------------------------------------------------------


def test_reset_removes_the_users_second_factors_only(
    ctx: Context, web: Origin, make_user: MakeUser
) -> None:
    """A reset removes the user's authenticators, codes, devices and throttles, not others'."""
    boss = make_user("boss", admin=True)
    sam = make_user("sam")
    tom = make_user("tom")
    _give_2fa(ctx, sam.id, "sam")
    _give_2fa(ctx, tom.id, "tom")
    _lock(ctx, account_scope(sam.id, "code"), 600)
    _lock(ctx, pair_scope(sam.id, "pw", "198.51.100.9"), 600)
    # Scopes of other users, one of them a prefix trap (user 5 vs user 57).
    trap = account_scope(int(f"{sam.id}7"), "code")
    _lock(ctx, trap, 600)
    _lock(ctx, account_scope(tom.id, "pw"), 600)
    name_scope = name_scopes("nobody", "198.51.100.9")[1]
    _lock(ctx, name_scope, 600)

    admin.reset_2fa(ctx, web, boss.id, sam.id, f"  {NOTE}  ", step_up_at=ctx.now_dt())

    assert _counts(ctx, sam.id) == (0, 0, 0)
    assert _counts(ctx, tom.id) == (2, 2, 1)
    assert _scopes(ctx) == {trap, account_scope(tom.id, "pw"), name_scope}
    assert admin.lock_state(ctx, sam.id) is None
    [event] = audit.query_audit(ctx, username="sam", kind="2fa.reset")
    assert (event.actor_name, event.subject_name, event.source) == ("boss", "sam", "web")
    assert event.detail == {
        "note": NOTE,
        "credentials": 2,
        "passkeys": 0,
        "recovery_codes": 2,
        "devices": 1,
        "throttles": 2,
        "sessions": 0,
    }


def test_reset_from_the_cli_needs_no_actor(
    ctx: Context, cli: Origin, make_user: MakeUser
) -> None:
    """The CLI operator resets without a user actor; the audit row says it came from the CLI."""
    uma = make_user("uma")
    _give_2fa(ctx, uma.id, "uma")
    admin.reset_2fa(ctx, cli, None, uma.id, NOTE)
    assert _counts(ctx, uma.id) == (0, 0, 0)
    [event] = audit.query_audit(ctx, username="uma", kind="2fa.reset")
    assert (event.actor_name, event.source, event.user_agent) == ("", "cli", "cli:tester")


@pytest.mark.parametrize("note", [None, "", "          ", "  too short  ", "x" * 1001, 12345678901])
def test_reset_requires_a_real_note(
    ctx: Context, cli: Origin, make_user: MakeUser, dump: Callable[[], Dump], note: Any
) -> None:
    """Without an identity-check note of 10 to 1000 characters nothing is reset."""
    vic = make_user("vic")
    _give_2fa(ctx, vic.id, "vic")
    before = dump()
    with pytest.raises(InvalidInput):
        admin.reset_2fa(ctx, cli, None, vic.id, note)
    assert dump() == before


def test_reset_requires_another_active_admin(
    ctx: Context, web: Origin, make_user: MakeUser, dump: Callable[[], Dump]
) -> None:
    """No actor on the web, a plain user, an unknown id or the admin themself: refused."""
    boss = make_user("boss", admin=True)
    wes = make_user("wes")
    _give_2fa(ctx, wes.id, "wes")
    _give_2fa(ctx, boss.id, "boss")
    before = dump()
    for actor_id, subject_id in ((None, wes.id), (wes.id, wes.id), (424242, wes.id)):
        with pytest.raises(NotPermitted):
            admin.reset_2fa(ctx, web, actor_id, subject_id, NOTE, step_up_at=ctx.now_dt())
    with pytest.raises(NotPermitted, match="another administrator"):
        admin.reset_2fa(ctx, web, boss.id, boss.id, NOTE, step_up_at=ctx.now_dt())
    with pytest.raises(NotFound):
        admin.reset_2fa(ctx, web, boss.id, wes.id + 1000, NOTE, step_up_at=ctx.now_dt())
    assert dump() == before


# --- unlock and lock state -------------------------------------------------------------


def test_lock_state_is_the_latest_future_lock(ctx: Context, make_user: MakeUser) -> None:
    """lock_state reports the latest lock end among the user's scopes while it is ahead."""
    xena = make_user("xena")
    assert admin.lock_state(ctx, xena.id) is None
    _lock(ctx, account_scope(xena.id, "code"), 60)
    latest = _lock(ctx, pair_scope(xena.id, "pw", "192.0.2.1"), 900)
    _lock(ctx, name_scopes("xena2", "192.0.2.1")[0], 3600)
    assert admin.lock_state(ctx, xena.id) == latest
    ctx.clock.advance(120)  # type: ignore[attr-defined]
    assert admin.lock_state(ctx, xena.id) == latest
    ctx.clock.advance(900)  # type: ignore[attr-defined]
    assert admin.lock_state(ctx, xena.id) is None
    with pytest.raises(NotFound):
        admin.lock_state(ctx, xena.id + 1000)


def test_unlock_clears_the_users_throttles(
    ctx: Context, web: Origin, make_user: MakeUser, dump: Callable[[], Dump]
) -> None:
    """Unlock removes the user's counters and locks, is audited, and needs an admin."""
    boss = make_user("boss", admin=True)
    yann = make_user("yann")
    _lock(ctx, account_scope(yann.id, "pw"), 600)
    _lock(ctx, pair_scope(yann.id, "code", "192.0.2.1"), 600)
    _lock(ctx, account_scope(boss.id, "code"), 600)
    before = dump()
    with pytest.raises(NotPermitted):
        admin.unlock_user(ctx, web, yann.id, yann.id)
    assert dump() == before
    admin.unlock_user(ctx, web, boss.id, yann.id)
    assert admin.lock_state(ctx, yann.id) is None
    assert _scopes(ctx) == {account_scope(boss.id, "code")}
    [event] = audit.query_audit(ctx, username="yann", kind="user.unlocked")
    assert (event.actor_name, event.detail) == ("boss", {"throttles": 2})


# --- policy ----------------------------------------------------------------------------


def test_policy_defaults_to_2fa_for_admins_and_the_configured_issuer(ctx: Context) -> None:
    """Out of the box the policy requires 2FA of administrators only, and uses the issuer
    from settings."""
    assert admin.get_policy(ctx) == Policy(
        require_all=False, require_admins=True, issuer=ctx.settings.issuer
    )


def test_set_policy_stores_and_audits_the_change(
    ctx: Context, web: Origin, make_user: MakeUser
) -> None:
    """A new policy is read back, kept in app_settings, and audited with old and new values."""
    boss = make_user("boss", admin=True)
    new = admin.set_policy(
        ctx, web, boss.id, require_all=True, require_admins=False, issuer=" ACME Portal ",
        step_up_at=ctx.now_dt(),
    )
    assert new == Policy(require_all=True, require_admins=False, issuer="ACME Portal")
    assert admin.get_policy(ctx) == new
    with transaction(ctx.session_factory) as s:
        assert repo.get_setting(s, "policy.require_admins") == "false"
        assert repo.get_setting(s, "policy.require_all") == "true"
        assert repo.get_setting(s, "issuer") == "ACME Portal"
    [event] = audit.query_audit(ctx, kind="policy.changed")
    assert event.actor_name == "boss"
    assert event.detail["old"]["require_admins"] is True
    assert event.detail["new"] == {
        "require_all": True,
        "require_admins": False,
        "issuer": "ACME Portal",
        "passwordless": False,
    }


@pytest.mark.parametrize(
    "changes",
    [
        {"issuer": ""},
        {"issuer": "   "},
        {"issuer": "a:b"},
        {"issuer": "i" * 65},
        {"issuer": "tab\there"},
        {"issuer": None},
        {"require_all": "true"},
        {"require_admins": 1},
    ],
)
def test_set_policy_refuses_bad_values(
    ctx: Context, cli: Origin, dump: Callable[[], Dump], changes: dict[str, Any]
) -> None:
    """A bad issuer or a non-boolean flag is InvalidInput and changes nothing."""
    args: dict[str, Any] = {"require_all": True, "require_admins": True, "issuer": "otpgate"}
    args.update(changes)
    before = dump()
    with pytest.raises(InvalidInput):
        admin.set_policy(ctx, cli, None, **args)
    assert dump() == before


def test_set_policy_needs_an_admin(
    ctx: Context, web: Origin, make_user: MakeUser, dump: Callable[[], Dump]
) -> None:
    """A plain user or an anonymous web request cannot change the policy."""
    zed = make_user("zed")
    before = dump()
    for actor_id in (zed.id, None):
        with pytest.raises(NotPermitted):
            admin.set_policy(
                ctx, web, actor_id, require_all=True, require_admins=True, issuer="x"
            )
    assert dump() == before
