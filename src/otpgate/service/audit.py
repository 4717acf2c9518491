"""The audit trail: every security event is one row, written in the transaction of the
use case that caused it (so an event is recorded if and only if its change is).

Rows copy the actor's and subject's names: ids may outlive users, names keep the log
readable. ``detail`` never holds a secret, a code or a password.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from otpgate.service import notify
from otpgate.service._convert import audit_view
from otpgate.service._tx import connection_of_work, unit_of_work
from otpgate.service.errors import CodeReplayed, InvalidInput, NotFound
from otpgate.service.views import AuditView
from otpgate.store import repositories as repo
from otpgate.store.models import User
from otpgate.store.repositories import CheckedUser

if TYPE_CHECKING:
    from otpgate.service.context import Context, Origin

__all__ = [
    "AuditKind",
    "export_audit_jsonl",
    "query_audit",
    "quiet_row",
    "record",
    "replays_audited",
]

_MAX_LIMIT = 1000
_EXPORT_PAGE = 500


class AuditKind(StrEnum):
    LOGIN_PASSWORD_OK = "login.password_ok"
    LOGIN_PASSWORD_FAILED = "login.password_failed"
    LOGIN_OK = "login.ok"
    LOGIN_CODE_FAILED = "login.code_failed"
    LOGIN_CODE_REPLAYED = "login.code_replayed"
    LOGIN_LOCKED = "login.locked"
    TWOFA_ENABLED = "2fa.enabled"
    TWOFA_DISABLED = "2fa.disabled"
    TWOFA_RESET = "2fa.reset"
    AUTHENTICATOR_ADDED = "authenticator.added"
    AUTHENTICATOR_REMOVED = "authenticator.removed"
    AUTHENTICATOR_RENAMED = "authenticator.renamed"
    HOTP_RESYNCED = "hotp.resynced"
    PASSKEY_ADDED = "passkey.added"
    PASSKEY_REMOVED = "passkey.removed"
    PASSKEY_RENAMED = "passkey.renamed"
    PASSKEY_FAILED = "login.passkey_failed"
    PASSKEY_CLONED = "passkey.cloned"
    BYPASS_ISSUED = "bypass.issued"
    BYPASS_USED = "bypass.used"
    RECOVERY_USED = "recovery.used"
    RECOVERY_REGENERATED = "recovery.regenerated"
    DEVICE_TRUSTED = "device.trusted"
    DEVICE_REVOKED = "device.revoked"
    DEVICE_USED = "device.used"
    USER_CREATED = "user.created"
    USER_DEACTIVATED = "user.deactivated"
    USER_REACTIVATED = "user.reactivated"
    USER_ADMIN_GRANTED = "user.admin_granted"
    USER_ADMIN_REVOKED = "user.admin_revoked"
    USER_PASSWORD_CHANGED = "user.password_changed"
    USER_UNLOCKED = "user.unlocked"
    POLICY_CHANGED = "policy.changed"
    KEYS_ROTATED = "keys.rotated"
    API_TOKEN_CREATED = "api_token.created"
    API_TOKEN_REVOKED = "api_token.revoked"
    SETUP_COMPLETED = "setup.completed"
    GROUP_ADDED = "group.added"
    GROUP_REMOVED = "group.removed"
    MAIL_FAILED = "mail.failed"
    MAIL_DEAD = "mail.dead"
    TWOFA_INVITED = "2fa.invited"
    DATABASE_BACKED_UP = "database.backed_up"
    DATABASE_RESTORED = "database.restored"
    AUDIT_PURGED = "audit.purged"


_KINDS = frozenset(k.value for k in AuditKind)


def record(
    session: Session,
    ctx: Context,
    origin: Origin,
    kind: AuditKind,
    *,
    actor: User | None = None,
    subject: User | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add one audit row to the caller's transaction (committed with it, or not at all).

    Events that call for a security e-mail queue it in the same transaction
    (:func:`otpgate.service.notify.after_audit`).
    """
    event = repo.add_audit(
        session,
        at=ctx.now_dt(),
        kind=str(kind),
        source=origin.source,
        actor_id=actor.id if actor is not None else None,
        actor_name=actor.username if actor is not None else "",
        subject_id=subject.id if subject is not None else None,
        subject_name=subject.username if subject is not None else "",
        client_addr=origin.client_addr[:64],
        user_agent=origin.user_agent[:400],
        detail=dict(detail or {}),
    )
    notify.after_audit(session, ctx, origin, event, actor=actor, subject=subject)


def quiet_row(
    ctx: Context,
    origin: Origin,
    kind: AuditKind,
    *,
    subject: CheckedUser,
    detail: dict[str, Any],
) -> dict[str, Any] | None:
    """The columns of the row :func:`record` would add, for a Core insert
    (:func:`otpgate.store.repositories.insert_audit`), when the event can queue no mail.

    None when the subject may be mailed (:func:`otpgate.service.notify.may_mail`): the
    caller must then use :func:`record`, which runs the mail hook.
    """
    if notify.may_mail(ctx, subject):
        return None
    return _columns(ctx, origin, kind, subject.id, subject.username, detail)


def _columns(  # noqa: PLR0917
    ctx: Context,
    origin: Origin,
    kind: AuditKind,
    subject_id: int,
    subject_name: str,
    detail: dict[str, Any],
) -> dict[str, Any]:
    return {
        "at": ctx.now_dt(),
        "kind": str(kind),
        "source": origin.source,
        "actor_id": None,
        "actor_name": "",
        "subject_id": subject_id,
        "subject_name": subject_name,
        "client_addr": origin.client_addr[:64],
        "user_agent": origin.user_agent[:400],
        "detail": dict(detail),
    }


@contextmanager
def replays_audited(ctx: Context, origin: Origin) -> Iterator[None]:
    """Around a use case's transaction: a :class:`CodeReplayed` leaving it is recorded as
    ``login.code_replayed`` in a transaction of its own, then raised on.

    The use case's transaction has rolled back by then (a replay changes no data and
    counts no failure), so the row cannot go with it. It queues no mail.
    """
    try:
        yield
    except CodeReplayed as replay:
        row = _columns(
            ctx, origin, AuditKind.LOGIN_CODE_REPLAYED, replay.user_id, replay.username,
            replay.detail,
        )
        with connection_of_work(ctx) as conn:
            repo.insert_audit(conn, **row)
        raise


def _check_filters(
    kind: object, since: object, until: object, limit: object, offset: object
) -> tuple[str | None, datetime | None, datetime | None, int, int]:
    if kind is not None and (not isinstance(kind, str) or kind not in _KINDS):
        raise InvalidInput("Unknown audit event kind.")
    for value in (since, until):
        if value is not None and not (isinstance(value, datetime) and value.tzinfo is not None):
            raise InvalidInput("Times must be timezone-aware datetimes.")
    for value, low, high in ((limit, 1, _MAX_LIMIT), (offset, 0, 2**31)):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InvalidInput(f"limit must be 1..{_MAX_LIMIT} and offset non-negative.")
    return kind, since, until, limit, offset  # type: ignore[return-value]


def query_audit(
    ctx: Context,
    *,
    username: str | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[AuditView]:
    """Audit events, newest first; ``username`` filters on the subject of the event."""
    kind_s, since, until, limit, offset = _check_filters(kind, since, until, limit, offset)
    with unit_of_work(ctx) as session:
        subject_id = None
        if username is not None:
            if not isinstance(username, str) or len(username) > 150:
                raise InvalidInput("The username must be text of at most 150 characters.")
            user = repo.find_user(session, username)
            if user is None:
                raise NotFound("No such user.")
            subject_id = user.id
        rows = repo.query_audit(
            session,
            subject_id=subject_id,
            kind=kind_s,
            since=since,
            until=until,
            limit=limit,
            offset=offset,
        )
        return [audit_view(row) for row in rows]


def export_audit_jsonl(
    ctx: Context,
    *,
    username: str | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Iterator[str]:
    """Every matching event as JSON lines (each ends with ``\\n``), newest first, in pages.

    ``until`` defaults to the moment the export starts, so events written meanwhile do not
    shift the pages.
    """
    until = until if until is not None else ctx.now_dt()
    offset = 0
    while True:
        page = query_audit(
            ctx,
            username=username,
            kind=kind,
            since=since,
            until=until,
            limit=_EXPORT_PAGE,
            offset=offset,
        )
        for view in page:
            yield view.to_json() + "\n"
        if len(page) < _EXPORT_PAGE:
            return
        offset += _EXPORT_PAGE
