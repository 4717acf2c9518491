"""Throttling of guesses: pure back-off maths, and its state in the database.

Each *scope* counts failures: the account (``user:{id}|code``), the account tried from one
client address (``user:{id}|code|{addr}``), and the same two for the password step
(``…|pw``; unknown names get ``name:{hash}|pw…`` so they behave like known ones). After
``burst`` failures every further failure locks the scope for ``base · factor^k`` seconds,
capped at ``max_seconds``: locks grow, but never become permanent. A scope is forgotten
after ``forget_after_seconds`` without a failure; an admin unlock forgets it at once.

Defaults, and why (peers' defaults for comparison):

* code, account + address (``burst 3, 30 s doubling, cap 1 h``): the fast brake on one
  attacker's address. libpam-google-authenticator's suggested ``RATE_LIMIT 3 30`` allows
  3 tries per 30 s for ever (8,640 a day); Authelia's regulation bans for 5 min after 3
  failures within 2 min.
* code, account (``burst 5, 60 s doubling, cap 30 min``): the gentle brake that bounds an
  attacker with many addresses. Odoo allows 10 (newer: 5) TOTP checks per user and hour
  (up to 240 a day); Keycloak's brute-force detection (off by default) waits 60 s more per
  failure up to 15 min and forgets after 12 h; privacyIDEA locks a token for good after 10
  failures (``failcounter``), which lets anyone lock anyone out. We never lock for good,
  and a recovery code or trusted device of the owner keeps working during an account lock.
* password, account + address (``burst 5, 30 s doubling, cap 15 min``) and account
  (``burst 10, 30 s doubling, cap 5 min``): a password lock has no bypass, so the
  account-wide one stays short; Odoo cools an address down for 60 s after 5 failures.

Brute-force bound at these defaults (6 digits, window ±1, so 3 of 10⁶ codes are right at
any moment): whatever number of addresses, an attacker who knows the password gets at most
``CODE_ACCOUNT.max_failures_within(3600) = 10`` wrong codes per hour and
``CODE_ACCOUNT.max_failures_within(86400) = 56`` per day on one account, so
P(success in a day) ≤ 56 · 3 / 10⁶ ≈ 1.7 · 10⁻⁴ (about 1 in 6,000; ≈ 6 % after a year of
non-stop guessing, which leaves about 20,000 ``login.code_failed`` audit rows behind).
From a single address: 9 per hour, 32 per day.

Concurrency: every attempt on an account's scopes first takes that account's row lock
(:func:`lock_account`: ``SELECT … FOR NO KEY UPDATE`` on PostgreSQL; on SQLite every
transaction holds the write lock from ``BEGIN IMMEDIATE``) and only then reads the
counters, in a fresh statement — or, in the code check, in the locking statement itself,
which also tells whether a failure was counted between its snapshot and the lock (every
counted failure of an account's scope rewrites the account's row, see
:func:`otpgate.store.repositories.mark_counters_changed`); if so they are read again.
Attempts on one account are therefore decided one after the other, in every process, so
parallel requests cannot squeeze extra guesses through the moment a lock ends. Under that
lock the code check reads both counters in one query and writes them only on a failure
(:func:`read_scopes`, :func:`count_attempt`); :func:`begin_attempt` (the other steps)
counts the attempt up front with the store's atomic upsert and gives the provisional count
back on success. Name scopes (unknown users) have no row to lock and rely on the upsert's
row lock alone.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.orm import Session

from otpgate.service.errors import Locked
from otpgate.store import repositories as repo
from otpgate.store.models import Throttle
from otpgate.store.repositories import ThrottleCounter

__all__ = [
    "CODE_ACCOUNT",
    "CODE_PAIR",
    "PASSWORD_ACCOUNT",
    "PASSWORD_PAIR",
    "Attempt",
    "Step",
    "ThrottlePolicy",
    "account_scope",
    "begin_attempt",
    "count_attempt",
    "fail_attempt",
    "is_forgotten",
    "lock_account",
    "lock_end",
    "locked_until",
    "name_scopes",
    "pair_scope",
    "raise_if_locked",
    "read_scopes",
    "scope_parts",
    "succeed_attempt",
]

Step = Literal["code", "pw"]
_MAX_ADDR = 64


@dataclass(frozen=True)
class ThrottlePolicy:
    """How one kind of scope slows down: free failures, then growing, capped locks."""

    burst: int
    base_seconds: float
    factor: float
    max_seconds: float
    forget_after_seconds: float

    def __post_init__(self) -> None:
        if self.burst < 1 or self.base_seconds <= 0 or self.factor < 1:
            raise ValueError("burst must be >= 1, base_seconds > 0 and factor >= 1")
        if not self.base_seconds <= self.max_seconds < self.forget_after_seconds:
            # Forgetting before a lock ends would hand out a fresh burst after every lock.
            raise ValueError("need base_seconds <= max_seconds < forget_after_seconds")

    def lock_seconds(self, failures: int) -> float:
        """How long the scope is locked after its ``failures``-th failure (0 = not locked)."""
        if failures < self.burst:
            return 0.0
        exponent = min(failures - self.burst, 64)  # the cap is reached long before
        return float(min(self.max_seconds, self.base_seconds * self.factor**exponent))

    def max_failures_within(self, seconds: float) -> int:
        """The most failures an attacker at full speed can make in ``seconds`` from a clean
        slate: the brute-force bound of this policy (exact for windows up to
        ``forget_after_seconds``; a clean slate is the attacker's best start)."""
        t, failures = 0.0, 0
        while t < seconds:
            failures += 1
            t += self.lock_seconds(failures)
            if failures > 10_000_000:  # pragma: no cover - only a degenerate policy
                break
        return failures


CODE_PAIR = ThrottlePolicy(3, 30, 2, 3600, 12 * 3600)
CODE_ACCOUNT = ThrottlePolicy(5, 60, 2, 1800, 24 * 3600)
PASSWORD_PAIR = ThrottlePolicy(5, 30, 2, 900, 12 * 3600)
PASSWORD_ACCOUNT = ThrottlePolicy(10, 30, 2, 300, 24 * 3600)


def account_scope(user_id: int, step: Step) -> str:
    """The scope of an account for one step; every user scope starts with ``user:{id}|``."""
    return f"user:{user_id}|{step}"


def pair_scope(user_id: int, step: Step, client_addr: str) -> str:
    """The scope of an account tried from one client address."""
    return f"{account_scope(user_id, step)}|{client_addr[:_MAX_ADDR]}"


def scope_parts(step: Step, client_addr: str) -> tuple[str, str, str]:
    """(prefix, suffix, suffix): the account's and the pair's scopes are ``prefix + str(user
    id) + suffix``, for a query that finds the user by name and its counters at once."""
    account = account_scope(0, step)
    return "user:", account[len("user:0") :], pair_scope(0, step, client_addr)[len("user:0") :]


def name_scopes(username: str, client_addr: str) -> tuple[str, str]:
    """Password scopes for a name that is no account: same behaviour, name not stored."""
    digest = hashlib.sha256(username.casefold().encode("utf-8", "replace")).hexdigest()[:32]
    return f"name:{digest}|pw", f"name:{digest}|pw|{client_addr[:_MAX_ADDR]}"


def is_forgotten(policy: ThrottlePolicy, last_failure_at: datetime, now: datetime) -> bool:
    """Whether a counter idle since ``last_failure_at`` is forgotten at ``now``."""
    return (now - last_failure_at).total_seconds() > policy.forget_after_seconds


def lock_end(policy: ThrottlePolicy, failures: int, now: datetime) -> datetime | None:
    """When the lock after the ``failures``-th failure at ``now`` ends (None: no lock)."""
    seconds = policy.lock_seconds(failures)
    return now + timedelta(seconds=seconds) if seconds > 0 else None


def _active(until: datetime | None, now: datetime) -> datetime | None:
    return until if until is not None and until > now else None


def locked_until(session: Session, scope: str, now: datetime) -> datetime | None:
    """When the scope's lock ends, if it is locked at ``now``."""
    row = repo.get_throttle(session, scope)
    return None if row is None else _active(row.locked_until, now)


def raise_if_locked(session: Session, scopes: list[str], now: datetime) -> None:
    """:class:`Locked` with the latest end if any of ``scopes`` is locked; writes nothing."""
    ends = [u for scope in scopes if (u := locked_until(session, scope, now)) is not None]
    if ends:
        raise Locked(max(ends))


@dataclass
class Attempt:
    """One counted attempt on a scope, open until it fails or succeeds."""

    scope: str
    policy: ThrottlePolicy
    failures: int
    row: Throttle
    previous_failure_at: datetime | None


def lock_account(session: Session, scope: str) -> None:
    """Take the row lock of the account a ``user:{id}|…`` scope belongs to (see above)."""
    if scope.startswith("user:"):
        repo.lock_user(session, int(scope[5 : scope.index("|")]))


def read_scopes(session: Session, scopes: list[str], now: datetime) -> dict[str, Throttle]:
    """The counters of ``scopes`` (one query), or :class:`Locked` if any of them is locked.

    Call it after :func:`lock_account`, so that the counters cannot change before the
    attempt is decided.
    """
    rows = repo.get_throttles(session, scopes)
    ends = [u for row in rows.values() if (u := _active(row.locked_until, now)) is not None]
    if ends:
        raise Locked(max(ends))
    return rows


def count_attempt(
    session: Session,
    scope: str,
    policy: ThrottlePolicy,
    now: datetime,
    row: Throttle | ThrottleCounter | None,
) -> Attempt:
    """Count an attempt on ``scope`` whose counter was ``row`` (as read under the account's
    lock); a counter idle for longer than the policy's forget time starts again."""
    previous = None
    if row is not None:
        if is_forgotten(policy, row.last_failure_at, now):
            repo.clear_throttle(session, scope)
        else:
            previous = row.last_failure_at
    stored = repo.record_failure(session, scope, now)
    if scope.startswith("user:"):  # the code check's reads of the counters rely on it
        repo.mark_counters_changed(session.connection(), int(scope[5 : scope.index("|")]))
    # A name scope has no account lock: another process may have locked it between the
    # read and the upsert, which now holds the row. Look again.
    until = _active(stored.locked_until, now)
    if until is not None:
        raise Locked(until)
    return Attempt(scope, policy, stored.failures, stored, previous)


def begin_attempt(session: Session, scope: str, policy: ThrottlePolicy, now: datetime) -> Attempt:
    """Count an attempt on ``scope`` before the secret is checked, or raise :class:`Locked`.

    On :class:`Locked` the caller's transaction must roll back (raising does that), which
    also takes back the count.
    """
    lock_account(session, scope)
    row = read_scopes(session, [scope], now).get(scope)
    return count_attempt(session, scope, policy, now, row)


def fail_attempt(session: Session, attempt: Attempt, now: datetime) -> datetime | None:
    """The attempt failed: keep the count and lock the scope as the policy says.

    Returns the end of the new lock, or None if the scope stays open.
    """
    until = lock_end(attempt.policy, attempt.failures, now)
    if until is not None:
        repo.set_lock(session, attempt.scope, until)
    return until


def succeed_attempt(session: Session, attempt: Attempt, *, forget: bool) -> None:
    """The attempt did not fail: forget the scope, or just give back the provisional count.

    The account scope is not forgotten on success, so an attacker's budget is not renewed
    each time the owner logs in; the (account, address) scope is.
    """
    if forget or attempt.failures <= 1:
        repo.clear_throttle(session, attempt.scope)
        return
    attempt.row.failures = attempt.failures - 1
    if attempt.previous_failure_at is not None:
        attempt.row.last_failure_at = attempt.previous_failure_at
    session.flush()
