"""Security e-mails: an event's message joins the outbox in the event's own transaction.

:func:`after_audit` is called by :func:`otpgate.service.audit.record` for every audit row,
so a mail is queued if and only if its event is committed, from every channel (web, API,
command line, SSH). Nothing here talks to a mail server: the sender
(:mod:`otpgate.service.mailer`) does, later, so a login never waits on SMTP.

A mail is queued only when SMTP is configured and the user is active and has an e-mail
address. **New device**: a full sign-in (a code, or the password of an account without
2FA) from a (channel, address, browser) triple that has no full sign-in of this user in
the audit log of the last :data:`NEW_DEVICE_DAYS` days. A user's very first sign-in sends
nothing (there is nothing to compare it with); trusted-device sign-ins are known devices;
recovery and bypass-code sign-ins send their own mail. Lockouts send at most one mail per
:data:`LOCKOUT_MAIL_INTERVAL`.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from otpgate.service.notify_messages import (
    MAILED_KINDS,
    EventFacts,
    RenderedMail,
    event_mail,
    mail_locale,
)
from otpgate.store import repositories as repo
from otpgate.store.models import AuditEvent, OutboxMail, User
from otpgate.store.repositories import CheckedUser

if TYPE_CHECKING:
    from otpgate.service.context import Context, Origin

__all__ = [
    "LOCKOUT_MAIL_INTERVAL",
    "NEW_DEVICE_DAYS",
    "after_audit",
    "enqueue",
    "is_new_device",
    "issuer_of",
    "may_mail",
]

log = logging.getLogger("otpgate.mail")

NEW_DEVICE_DAYS = 90
LOCKOUT_MAIL_INTERVAL = timedelta(hours=1)
# Events that complete a sign-in; a password_ok counts only when no second factor follows.
_SIGN_INS = ("login.ok", "login.password_ok", "recovery.used", "device.used", "bypass.used")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# app_settings key of the issuer name an admin may set (see service.admin.ISSUER_KEY).
_ISSUER_KEY = "issuer"


def issuer_of(session: Session, ctx: Context) -> str:
    """The name the portal goes by: the admin-set issuer, else the configured one."""
    return repo.get_setting(session, _ISSUER_KEY) or ctx.settings.issuer


def enqueue(
    session: Session, ctx: Context, user: User, kind: str, mail: RenderedMail
) -> OutboxMail:
    """Queue ``mail`` for ``user`` in the caller's transaction."""
    return repo.enqueue_mail(
        session,
        recipient=user.email,
        kind=kind,
        subject=mail.subject[:300],
        body_text=mail.text,
        body_html=mail.html,
        now=ctx.now_dt(),
        user_id=user.id,
        locale=mail_locale(user.locale),
    )


def _full_sign_in(event: AuditEvent) -> bool:
    if event.kind == "login.password_ok":
        return not (event.detail or {}).get("second_factor", True)
    return event.kind in _SIGN_INS


def is_new_device(session: Session, event: AuditEvent) -> bool:
    """True if ``event`` is a sign-in from a triple not seen lately (see module docstring)."""
    assert event.subject_id is not None
    here = repo.audit_sightings(
        session,
        subject_id=event.subject_id,
        kinds=_SIGN_INS,
        since=event.at - timedelta(days=NEW_DEVICE_DAYS),
        before_id=event.id,
        source=event.source,
        client_addr=event.client_addr,
        user_agent=event.user_agent,
    )
    if any(_full_sign_in(e) for e in here):
        return False
    ever = repo.audit_sightings(
        session, subject_id=event.subject_id, kinds=_SIGN_INS, since=_EPOCH, before_id=event.id
    )
    return any(_full_sign_in(e) for e in ever)


def _mail_kind(session: Session, ctx: Context, event: AuditEvent, user: User) -> str | None:
    kind = event.kind
    if kind in ("login.ok", "login.password_ok"):
        new = _full_sign_in(event) and is_new_device(session, event)
        return "login.new_device" if new else None
    if kind not in MAILED_KINDS:
        return None
    if kind == "login.locked":
        since = ctx.now_dt() - LOCKOUT_MAIL_INTERVAL
        if repo.list_mail(session, user_id=user.id, kind=kind, since=since, limit=1):
            return None
    return kind


def may_mail(ctx: Context, subject: User | CheckedUser | None) -> bool:
    """Whether an event about ``subject`` may queue a mail at all (SMTP configured, an
    active subject with an address); when False, :func:`after_audit` reads nothing."""
    return (
        ctx.settings.smtp_configured
        and subject is not None
        and bool(subject.email)
        and subject.is_active
    )


def after_audit(
    session: Session,
    ctx: Context,
    origin: Origin,
    event: AuditEvent,
    *,
    actor: User | None,
    subject: User | None,
) -> None:
    """Queue the security mail ``event`` calls for, if any (hook of ``audit.record``).

    Never raises: a mail that cannot be prepared is logged and dropped, so that the
    security operation it tells about goes on.
    """
    if not may_mail(ctx, subject) or subject is None:
        return
    try:
        kind = _mail_kind(session, ctx, event, subject)
        if kind is None:
            return
        by_admin = actor.id != subject.id if actor is not None else origin.source == "cli"
        facts = EventFacts(
            kind=kind,
            username=subject.username,
            display_name=subject.display_name,
            at=event.at,
            source=event.source,
            client_addr=event.client_addr,
            user_agent=event.user_agent,
            by_admin=by_admin,
            detail=event.detail,
        )
        mail = event_mail(
            facts,
            locale=mail_locale(subject.locale),
            issuer=issuer_of(session, ctx),
            base_url=ctx.settings.base_url,
        )
        if mail is not None:
            enqueue(session, ctx, subject, kind, mail)
    except Exception:  # a mail must never undo the event it reports
        log.exception("could not queue the %s mail of user %s", event.kind, subject.id)
