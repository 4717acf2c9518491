"""Turning 2FA on and off, and managing the named authenticators of a user.

``begin`` (after a fresh password check) creates a *pending* credential whose secret is
sealed at once; a pending credential is never tried at login and expires after
``settings.pending_enrolment_seconds``. ``confirm`` activates it when the user types a
code it produced, and marks that code's step as used so it cannot log in a second time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, cast

from sqlalchemy import CursorResult, update
from sqlalchemy.orm import Session

from otpgate.otp import Algorithm, qr, uri
from otpgate.otp.errors import OtpError
from otpgate.otp.secrets import b32encode, grouped, new_secret
from otpgate.service._code_check import check_code
from otpgate.service._convert import credential_view, has_active_credential
from otpgate.service._password import check_password_of, password_text
from otpgate.service._stepup import require_fresh_step_up
from otpgate.service._text import name_text
from otpgate.service._tx import check_id, load_active_user, unit_of_work
from otpgate.service.admin import read_policy
from otpgate.service.audit import AuditKind, record, replays_audited
from otpgate.service.authenticators import remove_credential, rename_credential, switch_off
from otpgate.service.compat import check_app_honoured_settings
from otpgate.service.errors import (
    AlreadyEnrolled,
    CodeRejected,
    EnrolmentExpired,
    InvalidInput,
    NotEnrolled,
    NotFound,
    RejectReason,
    ServiceError,
)
from otpgate.service.recovery import issue_recovery_codes
from otpgate.service.verification import (
    code_text,
    match_step,
    open_secret,
    secret_context,
)
from otpgate.service.views import CredentialView, PendingEnrolment
from otpgate.store import repositories as repo
from otpgate.store.models import OtpCredential, User

if TYPE_CHECKING:
    from otpgate.service.context import Context, Origin

__all__ = [
    "begin_enrolment",
    "confirm_enrolment",
    "disable_2fa",
    "list_credentials",
    "remove_credential",
    "rename_credential",
]

MAX_NAME = 100
DEFAULT_NAME = "Authenticator"
Kind = Literal["totp", "hotp"]


def _kind(kind: object) -> Kind:
    if kind == "totp":
        return "totp"
    if kind == "hotp":
        return "hotp"
    raise InvalidInput('The authenticator type must be "totp" or "hotp".')


def _name(name: object) -> str:
    return name_text(name, "authenticator name", MAX_NAME)


def begin_enrolment(
    ctx: Context,
    origin: Origin,
    user_id: int,
    *,
    step_up_at: datetime | None,
    kind: str = "totp",
    name: str = "",
) -> PendingEnrolment:
    """Start adding an authenticator: a pending credential, its secret, URI and QR code.

    Needs a step-up younger than ``settings.step_up_seconds`` (:class:`StepUpRequired`).
    Replaces the user's previous pending enrolment, and purges expired ones.
    """
    require_fresh_step_up(ctx, step_up_at)
    checked_kind, label = _kind(kind), _name(name)
    settings = ctx.settings
    with unit_of_work(ctx) as session:
        user = load_active_user(session, user_id)
        now = ctx.now_dt()
        repo.delete_expired_pending(session, now)
        for old in repo.credentials_of(session, user.id, "pending"):
            repo.delete_credential(session, user.id, old.id)
        secret = new_secret()
        key_id, sealed = ctx.keyring.seal(secret, context=secret_context(user.id))
        expires_at = now + timedelta(seconds=settings.pending_enrolment_seconds)
        cred = repo.add_credential(
            session,
            user_id=user.id,
            kind=checked_kind,
            status="pending",
            secret_sealed=sealed,
            key_id=key_id,
            created_at=now,
            name=label,
            algorithm=settings.otp_algorithm,
            digits=settings.otp_digits,
            period=settings.otp_period,
            expires_at=expires_at,
        )
        issuer = read_policy(session, ctx).issuer
        try:
            link = uri.build_uri(
                secret,
                account=user.username,
                issuer=issuer,
                kind=checked_kind,
                algorithm=cast(Algorithm, cred.algorithm),
                digits=cred.digits,
                period=cred.period,
                counter=0 if checked_kind == "hotp" else None,
            )
        except OtpError as exc:  # e.g. a ':' in the issuer or the username
            raise InvalidInput(f"Cannot build the authenticator link: {exc}") from None
        b32 = b32encode(secret)
        return PendingEnrolment(
            credential_id=cred.id,
            kind=checked_kind,
            secret_b32=b32,
            secret_grouped=grouped(b32),
            uri=link,
            qr_svg=qr.qr_svg(link),
            issuer=issuer,
            account=user.username,
            expires_at=expires_at,
        )


def _pending_of(session: Session, user: User, credential_id: int, now: datetime) -> OtpCredential:
    cred = repo.get_credential(session, credential_id)
    if cred is None or cred.user_id != user.id:
        raise NotFound("No such authenticator.")
    if cred.status == "active":
        raise AlreadyEnrolled()
    if cred.expires_at is None or cred.expires_at <= now:
        raise EnrolmentExpired()
    return cred


def confirm_enrolment(  # noqa: PLR0917 - the signature is the adapters' contract
    ctx: Context, origin: Origin, user_id: int, credential_id: int, code: str, name: str
) -> list[str]:
    """Activate a pending authenticator with a code it produced, under ``name``.

    Returns new recovery codes (to show once) when this is the user's first authenticator,
    else an empty list. A wrong code changes nothing (the user can see the secret, so
    there is nothing to throttle); the pending enrolment stays until it expires.
    """
    cred_id = check_id(credential_id, "authenticator id")
    text = code_text(code)
    label = _name(name) or DEFAULT_NAME
    with unit_of_work(ctx) as session:
        user = load_active_user(session, user_id)
        now = ctx.now_dt()
        cred = _pending_of(session, user, cred_id, now)
        secret = open_secret(ctx, cred)
        try:
            found = match_step(ctx, cred, secret, text, ctx.clock.now())
            reason = RejectReason.WRONG
        except OtpError:  # letters, or not the configured number of digits
            found, reason = None, RejectReason.MALFORMED
        if found is None:
            check_app_honoured_settings(ctx, cred, secret, text, ctx.clock.now())
            raise CodeRejected(reason)
        step, offset = found
        first = not has_active_credential(session, user.id)
        activated = cast(
            "CursorResult[Any]",
            session.execute(
                update(OtpCredential)
                .where(OtpCredential.id == cred.id, OtpCredential.status == "pending")
                .values(
                    status="active",
                    name=label,
                    confirmed_at=now,
                    expires_at=None,
                    last_step=step,
                    drift_seconds=offset,
                )
                .execution_options(synchronize_session=False),
            ),
        )
        if activated.rowcount != 1:
            raise AlreadyEnrolled()  # a concurrent confirmation won
        detail = {"credential_id": cred.id, "name": label, "kind": cred.kind}
        if first:
            codes = issue_recovery_codes(session, ctx, user)
            record(
                session,
                ctx,
                origin,
                AuditKind.TWOFA_ENABLED,
                actor=user,
                subject=user,
                detail=detail,
            )
            return codes
        record(
            session,
            ctx,
            origin,
            AuditKind.AUTHENTICATOR_ADDED,
            actor=user,
            subject=user,
            detail=detail,
        )
        return []


def disable_2fa(
    ctx: Context,
    origin: Origin,
    user_id: int,
    password: str,
    code: str,
    *,
    keep_session: str | None = None,
) -> None:
    """Turn 2FA off: needs the password and a current code (both throttled as at login).

    Ends every session of the user but ``keep_session`` (the acting browser's id hash).
    """
    secret = password_text(password)
    code_text(code)
    with replays_audited(ctx, origin), unit_of_work(ctx) as session:
        user = load_active_user(session, user_id)
        if not has_active_credential(session, user.id):
            raise NotEnrolled()
        failure: ServiceError | None = check_password_of(
            session, ctx, origin, user, secret, username=user.username, purpose="disable_2fa"
        )
        if failure is None:
            outcome = check_code(session, ctx, origin, user, code, purpose="disable_2fa")
            if isinstance(outcome, CodeRejected):
                failure = outcome
            else:
                switch_off(session, ctx, origin, user, {"via": "disable"}, keep_session)
    if failure is not None:
        raise failure


def list_credentials(ctx: Context, user_id: int) -> list[CredentialView]:
    """The user's active authenticators, oldest first (pending ones are not listed)."""
    with unit_of_work(ctx) as session:
        user = load_active_user(session, user_id)
        return [credential_view(c) for c in repo.credentials_of(session, user.id, "active")]
