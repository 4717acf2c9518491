"""Managing the named authenticators of a user: rename one, remove one, or remove the last.

Removing one while another stays needs a fresh step-up and a code from *another*
authenticator, so a user cannot remove the only one that still works by mistake (or a
stolen session cannot remove the real user's). Removing the last turns 2FA off, so it
needs exactly what switching 2FA off needs: the password and a current code. Switching
2FA off ends every session of the user except ``keep_session`` (the id hash of the
browser that did it; the adapter rotates its id): a session opened with the old factor
elsewhere must not outlive it.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from otpgate.service._code_check import check_code
from otpgate.service._convert import credential_view
from otpgate.service._password import check_password_of, password_text
from otpgate.service._stepup import require_fresh_step_up
from otpgate.service._text import name_text
from otpgate.service._tx import check_id, load_active_user, unit_of_work
from otpgate.service.audit import AuditKind, record, replays_audited
from otpgate.service.errors import (
    CodeFromRemovedAuthenticator,
    CodeRejected,
    InvalidInput,
    LastAuthenticator,
    NotFound,
    ServiceError,
)
from otpgate.service.verification import code_text
from otpgate.service.views import CredentialView
from otpgate.store import repositories as repo
from otpgate.store.models import OtpCredential, User

if TYPE_CHECKING:
    from otpgate.service.context import Context, Origin

__all__ = ["MAX_NAME", "factor_name", "remove_credential", "rename_credential", "switch_off"]

MAX_NAME = 100


def factor_name(name: object, what: str = "authenticator") -> str:
    """A second factor's name: text without controls, spaces collapsed, non-empty, at most
    :data:`MAX_NAME` characters."""
    return name_text(name, f"{what} name", MAX_NAME, required=True)


def switch_off(  # noqa: PLR0917
    session: Session,
    ctx: Context,
    origin: Origin,
    user: User,
    detail: dict[str, object],
    keep_session: str | None,
) -> None:
    """Remove every credential, recovery code, trusted device and session (but
    ``keep_session``) of the user; audit it."""
    detail = {
        **detail,
        "credentials": repo.delete_credentials(session, user.id),
        "passkeys": repo.delete_passkeys(session, user.id),
        "recovery_codes": repo.delete_recovery_codes(session, user.id),
        "devices": repo.revoke_all_devices(session, user.id, ctx.now_dt()),
        "sessions": repo.delete_sessions_of(session, user.id, keep=keep_session),
    }
    record(session, ctx, origin, AuditKind.TWOFA_DISABLED, actor=user, subject=user, detail=detail)


def remove_credential(
    ctx: Context,
    origin: Origin,
    user_id: int,
    credential_id: int,
    *,
    step_up_at: datetime | None,
    code: str | None = None,
    password: str | None = None,
    keep_session: str | None = None,
) -> None:
    """Remove one authenticator.

    While another one stays, this needs a fresh step-up and ``code`` from *another*
    authenticator (proof that the user keeps a working one). The last one can only go
    with the checks of :func:`disable_2fa` (``password`` and a current ``code``; the
    step-up is then not needed): it turns 2FA off, ending the user's other sessions (all
    but ``keep_session``). Without them, :class:`LastAuthenticator`.
    """
    cred_id = check_id(credential_id, "authenticator id")
    secret = None if password is None else password_text(password)
    if secret is None:
        require_fresh_step_up(ctx, step_up_at)
    if code is not None:
        code_text(code)
    failure: ServiceError | None = None
    with replays_audited(ctx, origin), unit_of_work(ctx) as session:
        user = load_active_user(session, user_id)
        active = repo.credentials_of(session, user.id, "active")
        cred = next((c for c in active if c.id == cred_id), None)
        if cred is None:
            raise NotFound("No such authenticator.")
        if len(active) == 1:
            failure = _remove_last(
                session, ctx, origin, user, cred, (secret, code), keep_session
            )
        else:
            failure = _remove_one(session, ctx, origin, user, cred, code)
    if failure is not None:
        raise failure


def _remove_last(  # noqa: PLR0917
    session: Session,
    ctx: Context,
    origin: Origin,
    user: User,
    cred: OtpCredential,
    proof: tuple[str | None, str | None],
    keep_session: str | None,
) -> ServiceError | None:
    secret, code = proof
    if secret is None or code is None:
        raise LastAuthenticator()
    failure = check_password_of(
        session, ctx, origin, user, secret, username=user.username, purpose="disable_2fa"
    )
    if failure is not None:
        return failure
    outcome = check_code(session, ctx, origin, user, code, purpose="disable_2fa")
    if isinstance(outcome, CodeRejected):
        return outcome
    switch_off(
        session, ctx, origin, user, {"via": "remove_last", "name": cred.name}, keep_session
    )
    return None


def _remove_one(  # noqa: PLR0917
    session: Session,
    ctx: Context,
    origin: Origin,
    user: User,
    cred: OtpCredential,
    code: str | None,
) -> ServiceError | None:
    if code is None:
        raise InvalidInput("Enter a code from another authenticator to remove this one.")
    outcome = check_code(session, ctx, origin, user, code, purpose="remove_authenticator")
    if isinstance(outcome, CodeRejected):
        return outcome
    if outcome.credential_id == cred.id:
        # Raised, so the transaction rolls back and that code's step stays unused.
        raise CodeFromRemovedAuthenticator()
    repo.delete_credential(session, user.id, cred.id)
    record(
        session,
        ctx,
        origin,
        AuditKind.AUTHENTICATOR_REMOVED,
        actor=user,
        subject=user,
        detail={"credential_id": cred.id, "name": cred.name, "proof": outcome.credential_id},
    )
    return None


def rename_credential(
    ctx: Context, origin: Origin, user_id: int, credential_id: int, name: str
) -> CredentialView:
    """Give an active authenticator a new (non-empty) name; audited with the old one."""
    cred_id = check_id(credential_id, "authenticator id")
    label = factor_name(name)
    with unit_of_work(ctx) as session:
        user = load_active_user(session, user_id)
        cred = repo.get_credential(session, cred_id)
        if cred is None or cred.user_id != user.id or cred.status != "active":
            raise NotFound("No such authenticator.")
        old, cred.name = cred.name, label
        record(
            session,
            ctx,
            origin,
            AuditKind.AUTHENTICATOR_RENAMED,
            actor=user,
            subject=user,
            detail={"credential_id": cred.id, "old": old, "name": label},
        )
        session.flush()
        return credential_view(cred)
