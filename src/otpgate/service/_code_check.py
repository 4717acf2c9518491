"""The one code check shared by logins (API, portal, SSH) and the other use cases that ask
for a current code (disable 2FA, remove an authenticator).

The rules and their order are in :mod:`otpgate.service.verification`'s docstring. They run
on SQLAlchemy Core because login checks are the busiest path. A successful login check
is, in one transaction:

1. one SELECT of the user, its active credentials and both throttle counters, which on
   PostgreSQL also takes the user's row lock (SQLite's transaction holds the write lock
   from ``BEGIN IMMEDIATE``) and says whether the counters are as of the lock (else they
   are read again: see :mod:`otpgate.service.throttle`, "Concurrency");
2. the conditional UPDATE of the credential's last step (the replay guard), which also
   returns the recovery codes left;
3. the ``login.ok`` audit row, in the same statement as 2 on PostgreSQL (through
   :func:`~otpgate.service.audit.record`, mail hook included, when the user may be
   mailed);
4. only if this address had failures: the DELETE of its counter.

A wrong code is as lean: after 1, one upsert counting the failure on both counters (each
lock chosen from the count read under the row lock; on PostgreSQL the same statement notes
on the user's row that its counters changed), and the ``login.code_failed`` (and
``login.locked``) rows, in the same statement as the upsert on PostgreSQL, stored there
only if the counts are the ones expected (else audited from the counts stored); or
:func:`~otpgate.service.audit.record` when the user may be mailed.

The statements run on the driver's cursor (:mod:`otpgate.store._driver`).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from otpgate.service import telemetry, throttle
from otpgate.service._tx import connection_of_work
from otpgate.service.audit import AuditKind, quiet_row, record, replays_audited
from otpgate.service.errors import (
    AccountDisabled,
    CodeRejected,
    CodeReplayed,
    Locked,
    NotEnrolled,
    NotFound,
    RejectReason,
    ServiceError,
)
from otpgate.service.verification import (
    code_text,
    failure_detail,
    lock_detail,
    match_step,
    new_drift,
    open_secret,
    well_formed,
)
from otpgate.service.views import SecondFactor
from otpgate.store import repositories as repo
from otpgate.store.models import User
from otpgate.store.repositories import CheckedCredential, CheckedUser

if TYPE_CHECKING:
    from otpgate.service.context import Context, Origin

__all__ = ["check_code", "check_login_code"]

_POLICIES = (throttle.CODE_ACCOUNT, throttle.CODE_PAIR)


def check_login_code(
    ctx: Context,
    origin: Origin,
    code: object,
    *,
    username: str | None = None,
    user_id: int | None = None,
) -> tuple[str, SecondFactor]:
    """Check a login code of the user named ``username`` (already normalised) or with id
    ``user_id`` (already checked), in one transaction; the stored username and the success.

    Raises :class:`NotFound`, :class:`AccountDisabled`, and what :func:`check_code` raises.
    """
    parts = throttle.scope_parts("code", origin.client_addr)
    with replays_audited(ctx, origin), connection_of_work(ctx) as conn:
        user = repo.load_user_for_check(
            conn, username=username, user_id=user_id, scope_parts=parts
        )
        if user is None:
            raise NotFound("No such user.")
        if not user.is_active:
            raise AccountDisabled()
        outcome = _check(conn, ctx, origin, user, code)
    if isinstance(outcome, ServiceError):
        raise outcome  # a wrong code: its failure count was committed above
    return user.username, outcome


def check_code(
    session: Session,
    ctx: Context,
    origin: Origin,
    user: User,
    code: object,
    *,
    purpose: str = "login",
) -> SecondFactor | CodeRejected:
    """Check a one-time code of ``user`` inside the caller's (ORM) transaction.

    Returns the success, or the :class:`CodeRejected` (``WRONG``) to raise *after* the
    transaction commits (so that the failure stays counted). Raises, for the transaction to
    roll back: :class:`InvalidInput`, :class:`CodeRejected` ``MALFORMED``,
    :class:`CodeReplayed` (the caller audits it after the rollback, with
    :func:`~otpgate.service.audit.replays_audited`), :class:`Locked`, :class:`NotEnrolled`,
    :class:`KeyUnavailable`. A success is audited
    as ``login.ok`` only when ``purpose`` is ``"login"``; other callers audit their own.
    """
    session.flush()  # the Core statements below must see the caller's pending changes
    conn = session.connection()
    parts = throttle.scope_parts("code", origin.client_addr)
    checked = repo.load_user_for_check(conn, user_id=user.id, scope_parts=parts)
    if checked is None:
        raise NotFound("No such user.")
    try:
        return _check(conn, ctx, origin, checked, code, purpose=purpose)
    finally:
        session.expire_all()  # rows changed by Core statements: reload what is used next


@telemetry.counted_check
def _check(  # noqa: PLR0917
    conn: Connection,
    ctx: Context,
    origin: Origin,
    user: CheckedUser,
    code: object,
    purpose: str = "login",
) -> SecondFactor | CodeRejected:
    text = code_text(code)
    if not user.credentials:
        raise NotEnrolled()
    candidates = [c for c in user.credentials if well_formed(text, c.digits)]
    if not candidates:
        raise CodeRejected(RejectReason.MALFORMED)

    now, now_dt = ctx.clock.now(), ctx.now_dt()
    scopes = [
        throttle.account_scope(user.id, "code"),
        throttle.pair_scope(user.id, "code", origin.client_addr),
    ]
    counters = user.counters
    if counters is None:  # a failure was counted between the snapshot and the lock
        counters = repo.read_counters(conn, scopes)
    ends = [c.locked_until for c in counters.values() if c.locked_until is not None]
    ends = [end for end in ends if end > now_dt]
    if ends:
        raise Locked(max(ends))
    replayed: CheckedCredential | None = None
    for cred in candidates:
        found = match_step(ctx, cred, open_secret(ctx, cred), text, now)
        if found is None:
            continue
        step, offset = found
        drift = new_drift(cred, offset) if cred.kind == "totp" else 0.0
        detail = {"method": cred.kind, "credential_id": cred.id, "credential": cred.name}
        # Without a mail to queue, the audit row goes with the step's UPDATE (one
        # statement on PostgreSQL); else it is recorded below, through the mail hook.
        # Other purposes (disable, remove) audit their own outcome.
        login = purpose == "login"
        row = None
        if login:
            row = quiet_row(ctx, origin, AuditKind.LOGIN_OK, subject=user, detail=detail)
        left = None
        if step > cred.last_step:
            left = (
                repo.advance_step_counting_codes(
                    conn, cred.id, step, user_id=user.id, now=now_dt, drift_seconds=drift
                )
                if row is None
                else repo.advance_step_and_audit(
                    conn,
                    cred.id,
                    step,
                    user_id=user.id,
                    now=now_dt,
                    drift_seconds=drift,
                    audit=row,
                )
            )
        if left is None:
            # An old step, or another request accepted this one first.
            replayed = replayed or cred
            continue
        # The account's counter is kept (see verification.check_code); the address's goes.
        if scopes[1] in counters:
            repo.clear_counter(conn, scopes[1])
        if login and row is None:
            _audit(conn, ctx, origin, user, [(AuditKind.LOGIN_OK, detail)])
        return SecondFactor(
            method="hotp" if cred.kind == "hotp" else "totp",
            credential_id=cred.id,
            drift_seconds=drift if cred.kind == "totp" else None,
            recovery_codes_left=left,
        )
    if replayed is not None:
        detail = {
            "method": replayed.kind,
            "credential_id": replayed.id,
            "credential": replayed.name,
            "purpose": purpose,
        }
        raise CodeReplayed(user.id, user.username, detail)
    _count_wrong_code(conn, ctx, origin, user, scopes, counters, purpose)
    return CodeRejected(RejectReason.WRONG)


def _count_wrong_code(  # noqa: PLR0917
    conn: Connection,
    ctx: Context,
    origin: Origin,
    user: CheckedUser,
    scopes: list[str],
    counters: dict[str, repo.ThrottleCounter],
    purpose: str,
) -> None:
    """Count the failure on both scopes, lock where the policy says so, audit both."""
    now = ctx.now_dt()
    expected = {}
    for scope, policy in zip(scopes, _POLICIES, strict=True):
        row = counters.get(scope)
        if row is not None and throttle.is_forgotten(policy, row.last_failure_at, now):
            repo.clear_counter(conn, scope)
            row = None
        expected[scope] = 1 if row is None else row.failures + 1
    ends = {
        scope: throttle.lock_end(policy, expected[scope], now)
        for scope, policy in zip(scopes, _POLICIES, strict=True)
    }
    # The audit rows for the counts expected go with the count when the user is not
    # mailed (one statement on PostgreSQL); they are stored only if those are the counts.
    predicted = _failure_events(purpose, expected, ends)
    quiet = _quiet_rows(ctx, origin, user, predicted)
    stored = repo.count_failures(
        conn, user.id, list(ends.items()), now, expected=expected, audits=quiet or ()
    )
    for scope, policy in zip(scopes, _POLICIES, strict=True):
        if stored[scope] != expected[scope]:  # changed since read (e.g. an admin unlock)
            ends[scope] = throttle.lock_end(policy, stored[scope], now)
            repo.set_counter_lock(conn, scope, ends[scope])
    events = predicted if stored == expected else _failure_events(purpose, stored, ends)
    for kind, detail in events:
        if kind is AuditKind.LOGIN_LOCKED:
            telemetry.locked_out("code", str(detail["scope"]))
    if quiet is None or stored != expected:
        _audit(conn, ctx, origin, user, events)


def _failure_events(
    purpose: str, counts: dict[str, int], ends: dict[str, datetime | None]
) -> list[tuple[AuditKind, dict[str, Any]]]:
    """The ``login.code_failed`` event, and a ``login.locked`` one for each lock set."""
    events: list[tuple[AuditKind, dict[str, Any]]] = [
        (AuditKind.LOGIN_CODE_FAILED, failure_detail("code", purpose, max(counts.values())))
    ]
    for scope, until in ends.items():
        if until is not None:
            detail = lock_detail(scope, "code", counts[scope], until)
            events.append((AuditKind.LOGIN_LOCKED, detail))
    return events


def _quiet_rows(
    ctx: Context, origin: Origin, user: CheckedUser, events: list[tuple[AuditKind, dict[str, Any]]]
) -> list[dict[str, Any]] | None:
    """The rows of ``events`` for a Core INSERT; None when one of them may mail the user
    (then :func:`record`, which runs the mail hook, must add them)."""
    rows = [quiet_row(ctx, origin, kind, subject=user, detail=detail) for kind, detail in events]
    quiet = [row for row in rows if row is not None]
    return quiet if len(quiet) == len(rows) else None


def _audit(
    conn: Connection,
    ctx: Context,
    origin: Origin,
    user: CheckedUser,
    events: list[tuple[AuditKind, dict[str, Any]]],
) -> None:
    """Audit rows about ``user``: one Core INSERT, or through the ORM's :func:`record`
    (which runs the mail hook) when the user may be mailed."""
    quiet = _quiet_rows(ctx, origin, user, events)
    if quiet is not None:
        repo.insert_audits(conn, quiet)
        return
    with Session(bind=conn) as session:  # the mail hook reads and writes through the ORM
        subject = _orm_user(session, user)
        for kind, detail in events:
            record(session, ctx, origin, kind, subject=subject, detail=detail)
        session.flush()


def _orm_user(session: Session, user: CheckedUser) -> User:
    row = session.get(User, user.id)
    if row is None:  # pragma: no cover - the row is locked (or written-locked) by us
        raise NotFound("No such user.")
    return row
