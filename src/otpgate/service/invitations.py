"""An administrator invites users to turn two-factor authentication on, by e-mail.

Each invitation is an outbox message (EN/FR, with a link to the security page when
``OTPGATE_BASE_URL`` is set) and a ``2fa.invited`` audit row, in one transaction. Users
who cannot or need not be invited are reported, not refused: no address, 2FA already on,
deactivated, or invited less than :data:`REINVITE_AFTER` ago (a double click sends one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import exists, select

from otpgate.service._actors import load_admin_actor
from otpgate.service._convert import has_active_credential
from otpgate.service._tx import check_id, load_user, unit_of_work
from otpgate.service.audit import AuditKind, record
from otpgate.service.errors import InvalidInput, MailNotConfigured
from otpgate.service.notify import enqueue, issuer_of
from otpgate.service.notify_messages import invite_mail, mail_locale
from otpgate.store import repositories as repo
from otpgate.store.models import OtpCredential, User

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from otpgate.service.context import Context, Origin

__all__ = ["INVITE_KIND", "REINVITE_AFTER", "InviteReport", "invite_to_enable_2fa"]

INVITE_KIND = "invite"
REINVITE_AFTER = timedelta(hours=24)
_MAX_USERS = 10_000


@dataclass(frozen=True)
class InviteReport:
    """Who was invited, and who was not with the reason (``no_email``, ``has_2fa``,
    ``inactive``, ``recently_invited``)."""

    invited: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...]


def _without_2fa(session: Session) -> list[User]:
    active_credential = exists().where(
        OtpCredential.user_id == User.id, OtpCredential.status == "active"
    )
    query = (
        select(User)
        .where(User.is_active.is_(True), ~active_credential)
        .order_by(User.id)
        .limit(_MAX_USERS)
    )
    return list(session.scalars(query))


def _reason(session: Session, ctx: Context, user: User) -> str | None:
    if not user.is_active:
        return "inactive"
    if not user.email:
        return "no_email"
    if has_active_credential(session, user.id):
        return "has_2fa"
    since = ctx.now_dt() - REINVITE_AFTER
    if repo.list_mail(session, user_id=user.id, kind=INVITE_KIND, since=since, limit=1):
        return "recently_invited"
    return None


def invite_to_enable_2fa(
    ctx: Context,
    origin: Origin,
    actor_id: int | None,
    user_ids: Sequence[int] = (),
    *,
    all_without_2fa: bool = False,
) -> InviteReport:
    """Queue an invitation for each of ``user_ids``, or every active user without 2FA.

    Raises :class:`MailNotConfigured` when no SMTP server is set, :class:`InvalidInput`
    when neither or both of ``user_ids`` and ``all_without_2fa`` are given,
    :class:`NotFound` for an unknown id, :class:`NotPermitted` if the actor is no admin.
    """
    if not ctx.settings.smtp_configured:
        raise MailNotConfigured()
    if isinstance(user_ids, str | bytes) or bool(user_ids) == bool(all_without_2fa):
        raise InvalidInput("Name the users to invite, or ask for all users without 2FA.")
    ids = [check_id(i, "user id") for i in user_ids]
    invited: list[str] = []
    skipped: list[tuple[str, str]] = []
    with unit_of_work(ctx) as session:
        actor = load_admin_actor(session, origin, actor_id)
        users = _without_2fa(session) if all_without_2fa else [load_user(session, i) for i in ids]
        issuer = issuer_of(session, ctx)
        for user in dict.fromkeys(users):  # each once, in order
            reason = _reason(session, ctx, user)
            if reason is not None:
                skipped.append((user.username, reason))
                continue
            mail = invite_mail(
                username=user.username,
                display_name=user.display_name,
                locale=mail_locale(user.locale),
                issuer=issuer,
                base_url=ctx.settings.base_url,
            )
            enqueue(session, ctx, user, INVITE_KIND, mail)
            record(session, ctx, origin, AuditKind.TWOFA_INVITED, actor=actor, subject=user)
            invited.append(user.username)
    return InviteReport(tuple(invited), tuple(skipped))
