"""Throttle: back-off maths, a scripted brute force against the bound, and who stays in."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest

from otpgate.service import admin, audit, login, throttle
from otpgate.service.context import Context, Origin
from otpgate.service.errors import AuthenticationFailed, CodeRejected, Locked, RejectReason
from otpgate.service.throttle import CODE_ACCOUNT, CODE_PAIR, ThrottlePolicy
from otpgate.service.views import UserView

from .conftest import PASSWORD
from .twofa import Enrolled, clock_of, enrol, wrong_code

MakeUser = Callable[..., UserView]
HOUR, DAY = 3600, 86400

# --- pure maths ---------------------------------------------------------------------------


def test_locks_grow_then_stop_at_the_cap() -> None:
    """No lock during the burst, then doubling locks capped at max_seconds."""
    policy = ThrottlePolicy(3, 30, 2, 3600, 43200)
    assert [policy.lock_seconds(n) for n in range(1, 12)] == [
        0,
        0,
        30,
        60,
        120,
        240,
        480,
        960,
        1920,
        3600,
        3600,
    ]
    assert policy.lock_seconds(10**9) == 3600  # never permanent, never overflowing


def test_documented_bounds_at_default_settings() -> None:
    """The bounds stated in the throttle module's docstring are what the policies give."""
    assert CODE_ACCOUNT.max_failures_within(HOUR) == 10
    assert CODE_ACCOUNT.max_failures_within(DAY) == 56
    assert CODE_PAIR.max_failures_within(HOUR) == 9
    assert CODE_PAIR.max_failures_within(DAY) == 32
    assert 56 * 3 / 1e6 < 1.7e-4
    assert "= 10`` wrong codes per hour" in (throttle.__doc__ or "")
    assert "= 56`` per day" in (throttle.__doc__ or "")


@pytest.mark.parametrize(
    "args", [(0, 30, 2, 60, 120), (3, 0, 2, 60, 120), (3, 30, 0.5, 60, 120), (3, 30, 2, 60, 60)]
)
def test_nonsense_policies_refused(args: tuple[int, float, float, float, float]) -> None:
    """A policy without a burst, with shrinking locks, or forgetting during a lock is refused."""
    with pytest.raises(ValueError):
        ThrottlePolicy(*args)


# --- scripted brute force -----------------------------------------------------------------


def _brute_force(
    ctx: Context, user_id: int, phone: Enrolled, seconds: int, origin_of: Callable[[int], Origin]
) -> list[float]:
    """Guess wrong codes as fast as the service lets us; the times of the counted guesses."""
    clock = clock_of(ctx)
    start = clock.now()
    counted: list[float] = []
    n = 0
    while clock.now() < start + seconds:
        n += 1
        try:
            login.verify_code(ctx, origin_of(n), user_id, wrong_code(phone.totp, clock.now(), n))
        except CodeRejected as exc:
            assert exc.reason is RejectReason.WRONG
            counted.append(clock.now() - start)
        except Locked as exc:
            # Hammering during the lock changes nothing; jump to its end at once.
            for _ in range(3):
                with pytest.raises(Locked):
                    login.verify_code(ctx, origin_of(n), user_id, phone.code(ctx))
            clock.set(exc.until.timestamp())
    return counted


def _per_window(times: list[float], window: int) -> int:
    """The most guesses in any window of ``window`` seconds."""
    return max(sum(1 for t in times if s <= t < s + window) for s in times)


def test_brute_force_from_many_addresses_stays_under_the_bound(
    ctx: Context, make_user: MakeUser, web: Origin
) -> None:
    """An attacker with a new address per guess gets at most the account bound per hour/day."""
    user = make_user("alice")
    phone = enrol(ctx, web, user.id)
    times = _brute_force(
        ctx, user.id, phone, DAY, lambda n: Origin("api", f"10.{n // 250}.{n % 250}.1")
    )
    assert _per_window(times, HOUR) <= CODE_ACCOUNT.max_failures_within(HOUR)
    assert len(times) <= CODE_ACCOUNT.max_failures_within(DAY)
    assert len(times) >= CODE_ACCOUNT.max_failures_within(DAY) - 1  # the bound is tight
    assert len(audit.query_audit(ctx, kind="login.code_failed", limit=1000)) == len(times)


def test_brute_force_from_one_address_stays_under_its_bound(
    ctx: Context, make_user: MakeUser, web: Origin
) -> None:
    """From a single address the (account, address) brake is the tighter one."""
    user = make_user("alice")
    phone = enrol(ctx, web, user.id)
    attacker = Origin("web", "192.0.2.66")
    times = _brute_force(ctx, user.id, phone, 6 * HOUR, lambda n: attacker)
    assert _per_window(times, HOUR) <= CODE_PAIR.max_failures_within(HOUR)
    assert _per_window(times, HOUR) <= CODE_ACCOUNT.max_failures_within(HOUR)


def _lock_account(ctx: Context, user_id: int, phone: Enrolled) -> datetime:
    """Five wrong codes from five addresses: the account scope locks."""
    for n in range(CODE_ACCOUNT.burst):
        with pytest.raises(CodeRejected):
            login.verify_code(
                ctx,
                Origin("web", f"192.0.2.{n}"),
                user_id,
                wrong_code(phone.totp, ctx.clock.now(), n),
            )
    with pytest.raises(Locked) as locked:
        login.verify_code(ctx, Origin("web", "192.0.2.200"), user_id, phone.code(ctx))
    return locked.value.until


def test_correct_code_refused_during_lock_then_accepted(
    ctx: Context, make_user: MakeUser, web: Origin
) -> None:
    """During a lock even the right code is refused; after it, it works."""
    user = make_user("alice")
    phone = enrol(ctx, web, user.id)
    until = _lock_account(ctx, user.id, phone)
    assert (until - ctx.now_dt()).total_seconds() == CODE_ACCOUNT.base_seconds
    assert admin.lock_state(ctx, user.id) == until
    assert audit.AuditKind.LOGIN_LOCKED in [e.kind for e in audit.query_audit(ctx)]
    with pytest.raises(Locked):
        login.verify_code(ctx, web, user.id, phone.code(ctx))
    clock_of(ctx).set(until.timestamp())
    assert login.verify_code(ctx, web, user.id, phone.code(ctx)).method == "totp"


def test_owner_gets_in_with_recovery_code_or_device_while_account_locked(
    ctx: Context, make_user: MakeUser, web: Origin
) -> None:
    """A stranger's failures lock the account's codes, not the owner's recovery or device."""
    user = make_user("alice")
    phone = enrol(ctx, web, user.id)
    token = login.trust_device(ctx, web, user.id, "Laptop")
    stranger = Origin("web", "198.51.100.9")
    for n in range(CODE_PAIR.burst):
        with pytest.raises(CodeRejected):
            login.verify_code(ctx, stranger, user.id, wrong_code(phone.totp, ctx.clock.now(), n))
    with pytest.raises(CodeRejected):
        login.verify_code(
            ctx, Origin("web", "198.51.100.10"), user.id, wrong_code(phone.totp, ctx.clock.now(), 9)
        )
    with pytest.raises(CodeRejected):
        login.verify_code(
            ctx, Origin("web", "198.51.100.11"), user.id, wrong_code(phone.totp, ctx.clock.now(), 8)
        )
    with pytest.raises(Locked):
        login.verify_code(ctx, web, user.id, phone.code(ctx))  # the account scope is locked
    # Not from the stranger's pair ...
    with pytest.raises(Locked):
        login.verify_recovery_code(ctx, stranger, user.id, phone.recovery_codes[0])
    assert not login.check_trusted_device(ctx, stranger, user.id, token)
    # ... but from the owner's address.
    assert (
        login.verify_recovery_code(ctx, web, user.id, phone.recovery_codes[0]).method == "recovery"
    )
    assert login.check_trusted_device(ctx, web, user.id, token)


def test_admin_unlock_clears_every_scope_of_the_account(
    ctx: Context, make_user: MakeUser, web: Origin, cli: Origin
) -> None:
    """After an admin unlock the right code works at once; other accounts keep their state."""
    user, other = make_user("alice"), make_user("bob")
    phone = enrol(ctx, web, user.id)
    other_phone = enrol(ctx, web, other.id)
    _lock_account(ctx, user.id, phone)
    _lock_account(ctx, other.id, other_phone)
    admin.unlock_user(ctx, cli, None, user.id)
    assert admin.lock_state(ctx, user.id) is None
    assert admin.lock_state(ctx, other.id) is not None
    assert login.verify_code(ctx, web, user.id, phone.code(ctx)).method == "totp"


def test_success_forgets_the_pair_but_not_the_account(
    ctx: Context, make_user: MakeUser, web: Origin
) -> None:
    """A success clears its address's count; the account's count is not renewed by it."""
    user = make_user("alice")
    phone = enrol(ctx, web, user.id)
    for n in range(2):
        with pytest.raises(CodeRejected):
            login.verify_code(ctx, web, user.id, wrong_code(phone.totp, ctx.clock.now(), n))
    login.verify_code(ctx, web, user.id, phone.code(ctx))
    with ctx.session_factory() as s:
        assert (
            throttle.locked_until(s, throttle.account_scope(user.id, "code"), ctx.now_dt()) is None
        )
        from otpgate.store import repositories as repo

        assert repo.get_throttle(s, throttle.pair_scope(user.id, "code", web.client_addr)) is None
        account = repo.get_throttle(s, throttle.account_scope(user.id, "code"))
        assert account is not None and account.failures == 2


def test_counts_are_forgotten_after_a_quiet_day(
    ctx: Context, make_user: MakeUser, web: Origin
) -> None:
    """Failures older than the forget period no longer count toward a lock."""
    user = make_user("alice")
    phone = enrol(ctx, web, user.id)
    for n in range(4):
        with pytest.raises(CodeRejected):
            login.verify_code(
                ctx,
                Origin("web", f"192.0.2.{n}"),
                user.id,
                wrong_code(phone.totp, ctx.clock.now(), n),
            )
    clock_of(ctx).advance(DAY + 60)
    for n in range(4):
        with pytest.raises(CodeRejected):
            login.verify_code(
                ctx,
                Origin("web", f"192.0.2.{n}"),
                user.id,
                wrong_code(phone.totp, ctx.clock.now(), n),
            )
    assert login.verify_code(ctx, web, user.id, phone.code(ctx)).method == "totp"


def test_password_step_throttled_alike_for_known_and_unknown_names(
    ctx: Context, make_user: MakeUser, web: Origin
) -> None:
    """Wrong passwords lock the password step the same way whether or not the name exists."""
    make_user("alice")
    outcomes: dict[str, list[str]] = {}
    for name in ("alice", "nobody"):
        seen = []
        for _ in range(7):
            try:
                login.check_password(ctx, web, name, "wrong password")
            except AuthenticationFailed:
                seen.append("failed")
            except Locked:
                seen.append("locked")
        outcomes[name] = seen
    assert outcomes["alice"] == outcomes["nobody"]
    assert outcomes["alice"][:5] == ["failed"] * 5 and "locked" in outcomes["alice"]
    with pytest.raises(Locked):
        login.check_password(ctx, web, "alice", PASSWORD)
    # Another address is not locked out of the account by this one.
    assert login.check_password(ctx, Origin("web", "198.51.100.1"), "alice", PASSWORD)
