"""The code check's statements in SQLAlchemy Core (re-exported by repositories).

The code check is the busiest path of the service (every API verify, every portal and
SSH login), so its few statements are built once, at import, and run on the
transaction's :class:`~sqlalchemy.engine.Connection`: no ORM identity map, no unit of
work, no statement construction per call. What they do is what the ORM repositories do
(see :func:`~otpgate.store._accounts.advance_last_step` for the replay guard).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Boolean,
    Connection,
    Integer,
    String,
    Table,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    literal_column,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import Select

from otpgate.store._driver import DriverStatement
from otpgate.store.models import AuditEvent, OtpCredential, RecoveryCode, Throttle, User

__all__ = [
    "CheckedCredential",
    "CheckedUser",
    "ThrottleCounter",
    "advance_step_and_audit",
    "advance_step_counting_codes",
    "clear_counter",
    "count_failures",
    "insert_audit",
    "insert_audits",
    "load_user_for_check",
    "mark_counters_changed",
    "read_counters",
    "set_counter_lock",
]

_users = cast(Table, User.__table__)
_creds = cast(Table, OtpCredential.__table__)
_codes = cast(Table, RecoveryCode.__table__)
_throttles = cast(Table, Throttle.__table__)
_audit = cast(Table, AuditEvent.__table__)


@dataclass(frozen=True, slots=True)
class CheckedCredential:
    """What the check needs of one active credential (the secret still sealed)."""

    id: int
    user_id: int
    kind: str
    name: str
    algorithm: str
    digits: int
    period: int
    last_step: int
    drift_seconds: float
    key_id: str
    secret_sealed: bytes


@dataclass(frozen=True, slots=True)
class ThrottleCounter:
    """One throttle scope's counter as stored."""

    scope: str
    failures: int
    last_failure_at: datetime
    locked_until: datetime | None


@dataclass(frozen=True, slots=True)
class CheckedUser:
    """A user as the code check sees it: name, whether active, active credentials, and
    the counters of the scopes asked for; ``counters`` is None when they may be older
    than the row lock (read them again, :func:`read_counters`)."""

    id: int
    username: str
    is_active: bool
    email: str
    credentials: tuple[CheckedCredential, ...]
    counters: dict[str, ThrottleCounter] | None = None


def _user_with_credentials(dialect: str) -> Select[Any]:
    # The counters of two scopes named "<prefix><user id><suffix>" come with the user:
    # no statement of their own.
    counters = [_throttles.alias(f"counter{i}") for i in range(2)]
    joined = _users.outerjoin(
        _creds, and_(_creds.c.user_id == _users.c.id, _creds.c.status == "active")
    )
    for i, counter in enumerate(counters):
        scope = (
            bindparam("scope_prefix", type_=String)
            + sql_cast(_users.c.id, String)
            + bindparam(f"scope_suffix{i}", type_=String)
        )
        joined = joined.outerjoin(counter, counter.c.scope == scope)
    return (
        select(
            _users.c.id,
            _users.c.username,
            _users.c.is_active,
            _users.c.email,
            _creds.c.id,
            _creds.c.kind,
            _creds.c.name,
            _creds.c.algorithm,
            _creds.c.digits,
            _creds.c.period,
            _creds.c.last_step,
            _creds.c.drift_seconds,
            _creds.c.key_id,
            _creds.c.secret_sealed,
            *(
                column
                for c in counters
                for column in (c.c.scope, c.c.failures, c.c.last_failure_at, c.c.locked_until)
            ),
            _snapshot_is_current(dialect),
        )
        .select_from(joined)
        .order_by(_creds.c.id)
        # PostgreSQL: the user's row lock (FOR NO KEY UPDATE OF users, so rows referring to
        # the user can still be inserted). SQLite renders no lock clause: its transactions
        # already hold the write lock (BEGIN IMMEDIATE).
        .with_for_update(key_share=True, of=_users)
    )


def _snapshot_is_current(dialect: str) -> Any:
    """Whether the counters read with the user's row are as of the row lock.

    PostgreSQL reads a statement's rows as of its start, but the locked row as of the
    moment the lock was granted, which may be after a transaction holding it committed.
    Every transaction that counts a failure of a user's scope also rewrites the user's
    row (:func:`mark_counters_changed`), so the row version we locked (``xmin``) equals
    the one of the statement's snapshot exactly when no such transaction committed in
    between. SQLite takes its write lock before the transaction reads anything.
    """
    if dialect != "postgresql":
        return literal(True, Boolean)
    before = _users.alias("as_of_snapshot")
    snapshot_xmin = (
        select(literal_column("as_of_snapshot.xmin"))
        .select_from(before)
        .where(before.c.id == _users.c.id)
        .scalar_subquery()
    )
    return literal_column("users.xmin").op("=", return_type=Boolean)(snapshot_xmin)


_BY_NAME = {
    d: DriverStatement(_user_with_credentials(d).where(_users.c.username == bindparam("name")))
    for d in ("postgresql", "sqlite")
}
_BY_ID = {
    d: DriverStatement(_user_with_credentials(d).where(_users.c.id == bindparam("user_id")))
    for d in ("postgresql", "sqlite")
}
_MARK_CHANGED = update(_users).where(_users.c.id == bindparam("user_id")).values(id=_users.c.id)
_COUNTERS = select(
    _throttles.c.scope,
    _throttles.c.failures,
    _throttles.c.last_failure_at,
    _throttles.c.locked_until,
).where(_throttles.c.scope.in_(bindparam("scopes", expanding=True)))
_CODES_LEFT = (
    select(func.count())
    .select_from(_codes)
    .where(_codes.c.user_id == bindparam("owner"), _codes.c.used_at.is_(None))
    .scalar_subquery()
)
_ADVANCE_STEP = (
    update(_creds)
    .where(
        _creds.c.id == bindparam("cred_id"),
        _creds.c.last_step < bindparam("step"),
        _creds.c.status == "active",
    )
    .values(
        last_step=bindparam("step"),
        last_used_at=bindparam("now"),
        drift_seconds=bindparam("drift"),
    )
)
_ADVANCE = DriverStatement(_ADVANCE_STEP.returning(_CODES_LEFT))
_AUDIT_COLUMNS = (
    "at",
    "kind",
    "source",
    "actor_id",
    "actor_name",
    "subject_id",
    "subject_name",
    "client_addr",
    "user_agent",
    "detail",
)


def _audit_binds(prefix: str = "audit_") -> dict[str, Any]:
    """One typed parameter per audit column, named ``prefix + column``; the values go in
    with :func:`_audit_values` and the same prefix."""
    return {c: bindparam(f"{prefix}{c}", type_=_audit.c[c].type) for c in _AUDIT_COLUMNS}


def _audit_values(fields: Mapping[str, object], prefix: str = "audit_") -> dict[str, object]:
    return {f"{prefix}{c}": fields[c] for c in _AUDIT_COLUMNS}


def _advance_then_audit() -> Select[Any]:
    # PostgreSQL only: the UPDATE and the INSERT of the audit row in one statement (data-
    # modifying CTEs); the row is inserted only if the UPDATE advanced the step.
    advanced = _ADVANCE_STEP.returning(_creds.c.id).cte("advanced")
    values = select(*_audit_binds().values()).select_from(advanced)
    audited = insert(_audit).from_select(list(_AUDIT_COLUMNS), values).cte("audited")
    return select(_CODES_LEFT).select_from(advanced).add_cte(audited)


_ADVANCE_AUDITED = DriverStatement(_advance_then_audit())
_INSERT_AUDIT = DriverStatement(
    insert(_audit)
    .values(_audit_binds())
    .inline()  # the new row's id is not needed: no RETURNING
)
_CLEAR = DriverStatement(delete(_throttles).where(_throttles.c.scope == bindparam("scope")))


def _count_failures(dialect: Any, n: int) -> Any:
    # One more failure on n scopes: each a new counter at 1, or the stored one plus 1
    # (concurrent writers lose no failure); each lock is the caller's, for the count it
    # expects. INSERT … SELECT … UNION ALL, not a multi-row VALUES: SQLAlchemy caches the
    # compiled form of the former only. (SQLite needs a WHERE in an upsert's SELECT.)
    selects = [
        select(
            bindparam(f"scope{i}", type_=_throttles.c.scope.type),
            literal(1, Integer),
            bindparam("now", type_=_throttles.c.first_failure_at.type),
            bindparam("now", type_=_throttles.c.last_failure_at.type),
            bindparam(f"until{i}", type_=_throttles.c.locked_until.type),
        ).where(true())
        for i in range(n)
    ]
    rows = selects[0] if n == 1 else union_all(*selects)
    new = dialect.insert(_throttles).from_select(
        ["scope", "failures", "first_failure_at", "last_failure_at", "locked_until"], rows
    )
    upsert = new.on_conflict_do_update(
        index_elements=[_throttles.c.scope],
        set_={
            "failures": _throttles.c.failures + 1,
            "last_failure_at": new.excluded.last_failure_at,
            "locked_until": new.excluded.locked_until,
        },
    ).returning(_throttles.c.scope, _throttles.c.failures)
    if dialect is postgresql:  # and mark the user's row, in the same statement
        upsert = upsert.add_cte(_MARK_CHANGED.cte("marked"))
    return upsert


_COUNT_FAILURES = {
    (name, n): DriverStatement(_count_failures(dialect, n))
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
    for n in (1, 2)
}


def _count_failures_then_audit(n: int, events: int) -> Any:
    # PostgreSQL only: _count_failures and, in the same statement (data-modifying CTEs),
    # the INSERT of ``events`` audit rows, made only if every count stored is the one the
    # caller expected (the rows it prepared describe those counts).
    counted = _count_failures(postgresql, n).cte("counted")
    expected = case(
        *((counted.c.scope == bindparam(f"scope{i}"), bindparam(f"expected{i}", type_=Integer))
          for i in range(n)),
        else_=literal(None, Integer),
    )
    as_expected = (
        select(func.count())
        .select_from(counted)
        .where(counted.c.failures == expected)
        .scalar_subquery()
        == literal(n, Integer)
    )
    rows = [select(*_audit_binds(f"audit{e}_").values()).where(as_expected) for e in range(events)]
    audited = insert(_audit).from_select(
        list(_AUDIT_COLUMNS), rows[0] if events == 1 else union_all(*rows)
    ).cte("audited")
    return select(counted.c.scope, counted.c.failures).add_cte(audited)


# A wrong code's failure is counted on 2 scopes and audited in 1 row, 2 or 3 with locks.
_COUNT_AND_AUDIT = {
    events: DriverStatement(_count_failures_then_audit(2, events)) for events in (1, 2, 3)
}


def load_user_for_check(
    conn: Connection,
    *,
    username: str | None = None,
    user_id: int | None = None,
    scope_parts: tuple[str, str, str] = ("", "", ""),
) -> CheckedUser | None:
    """The user (by case-folded name or by id) with its active credentials, oldest first,
    in one query that also takes the user's row lock on PostgreSQL; None if no such user.

    ``scope_parts`` = (prefix, suffix, suffix): the counters of the scopes
    ``prefix + str(user id) + suffix`` are read in the same query (``CheckedUser.counters``,
    or None if they may predate the lock: then read them with :func:`read_counters`).
    """
    prefix, first, second = scope_parts
    params: dict[str, object] = {
        "scope_prefix": prefix, "scope_suffix0": first, "scope_suffix1": second,
    }
    dialect = conn.dialect.name
    if username is not None:
        rows = _BY_NAME[dialect].rows(conn, {**params, "name": username.casefold()})
    else:
        rows = _BY_ID[dialect].rows(conn, {**params, "user_id": user_id})
    if not rows:
        return None
    first_row = rows[0]
    creds = tuple(
        CheckedCredential(r[4], first_row[0], *r[5:14]) for r in rows if r[4] is not None
    )
    counters = None
    if first_row[22]:
        counters = {
            row[0]: ThrottleCounter(*row)
            for row in (first_row[14:18], first_row[18:22])
            if row[0] is not None
        }
    return CheckedUser(
        first_row[0], first_row[1], bool(first_row[2]), first_row[3], creds, counters
    )


def mark_counters_changed(conn: Connection, user_id: int) -> None:
    """Note, on the user's row, that a transaction counted a failure of one of its scopes
    (see :func:`load_user_for_check`); PostgreSQL only, SQLite needs nothing."""
    if conn.dialect.name == "postgresql":
        conn.execute(_MARK_CHANGED, {"user_id": user_id})


def read_counters(conn: Connection, scopes: Sequence[str]) -> dict[str, ThrottleCounter]:
    """The counters of those ``scopes`` that have one, in one query."""
    rows = conn.execute(_COUNTERS, {"scopes": list(scopes)})
    return {r[0]: ThrottleCounter(r[0], r[1], r[2], r[3]) for r in rows}


def advance_step_counting_codes(
    conn: Connection,
    cred_id: int,
    step: int,
    *,
    user_id: int,
    now: datetime,
    drift_seconds: float,
) -> int | None:
    """The replay guard of :func:`~otpgate.store._accounts.advance_last_step` (one
    conditional UPDATE), returning, when it advanced, the user's unused recovery codes
    counted in the same statement; None when the step was not newer (a replay or a lost
    race) or the credential is no longer active."""
    rows = _ADVANCE.rows(
        conn,
        {"cred_id": cred_id, "step": step, "now": now, "drift": drift_seconds, "owner": user_id},
    )
    return int(rows[0][0]) if rows else None


def advance_step_and_audit(
    conn: Connection,
    cred_id: int,
    step: int,
    *,
    user_id: int,
    now: datetime,
    drift_seconds: float,
    audit: dict[str, object],
) -> int | None:
    """:func:`advance_step_counting_codes`, and only if it advanced, :func:`insert_audit`
    of ``audit`` (every column of :func:`~otpgate.store._records.add_audit`); on
    PostgreSQL both in one statement."""
    params = {"cred_id": cred_id, "step": step, "now": now, "drift": drift_seconds}
    if conn.dialect.name != "postgresql":
        left = advance_step_counting_codes(
            conn, cred_id, step, user_id=user_id, now=now, drift_seconds=drift_seconds
        )
        if left is not None:
            insert_audit(conn, **audit)
        return left
    params.update(_audit_values(audit))
    rows = _ADVANCE_AUDITED.rows(conn, {**params, "owner": user_id})
    return int(rows[0][0]) if rows else None


def insert_audit(conn: Connection, **fields: object) -> None:
    """Append one audit event (columns as :func:`~otpgate.store._records.add_audit`)."""
    _INSERT_AUDIT.rows(conn, _audit_values(fields))


def insert_audits(conn: Connection, rows: Sequence[Mapping[str, object]]) -> None:
    """Append audit events (columns as :func:`insert_audit`), batched in one statement."""
    if len(rows) == 1:
        _INSERT_AUDIT.rows(conn, _audit_values(rows[0]))
    else:
        _INSERT_AUDIT.run_many(conn, [_audit_values(row) for row in rows])


def count_failures(
    conn: Connection,
    user_id: int,
    locks: Sequence[tuple[str, datetime | None]],
    now: datetime,
    *,
    expected: Mapping[str, int] | None = None,
    audits: Sequence[Mapping[str, object]] = (),
) -> dict[str, int]:
    """One more failure on each ``(scope, lock)`` (one or two scopes of the user
    ``user_id``, whose row is marked as by :func:`mark_counters_changed`), in one
    statement: each is
    created at 1 or incremented (an atomic upsert, so concurrent writers lose no failure),
    and its lock set to ``lock``, chosen by the caller for the count it expects.

    Returns each scope's count as stored: where it is not the count the caller expected
    (the counter changed since it was read), the caller corrects the lock
    (:func:`set_counter_lock`).

    ``audits`` (rows as :func:`insert_audit`) are inserted if, and only if, every count
    stored is the one in ``expected``: on PostgreSQL in the same statement, so that a
    wrong code costs as many statements as a right one.
    """
    params: dict[str, object] = {"now": now, "user_id": user_id}
    for i, (scope, until) in enumerate(locks):
        params[f"scope{i}"] = scope
        params[f"until{i}"] = until
    merged = (
        conn.dialect.name == "postgresql" and len(locks) == 2 and len(audits) in _COUNT_AND_AUDIT
    )
    if audits and merged and expected is not None:
        for i, (scope, _) in enumerate(locks):
            params[f"expected{i}"] = expected[scope]
        for e, row in enumerate(audits):
            params.update(_audit_values(row, f"audit{e}_"))
        rows = _COUNT_AND_AUDIT[len(audits)].rows(conn, params)
        return {scope: int(failures) for scope, failures in rows}
    rows = _COUNT_FAILURES[conn.dialect.name, len(locks)].rows(conn, params)
    stored = {scope: int(failures) for scope, failures in rows}
    if audits and stored == expected:
        insert_audits(conn, audits)
    return stored


def set_counter_lock(conn: Connection, scope: str, until: datetime | None) -> None:
    """Set (or lift) the lock of ``scope``'s counter."""
    conn.execute(update(_throttles).where(_throttles.c.scope == scope).values(locked_until=until))


def clear_counter(conn: Connection, scope: str) -> None:
    """Forget the failures and lock of ``scope`` (as :func:`clear_throttle`)."""
    _CLEAR.rows(conn, {"scope": scope})
