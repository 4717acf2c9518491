"""Signing in with a passkey: as the second step after the password, or alone
(passwordless) when the admin policy allows it.

Each sign-in is two calls: the options (a challenge kept in the caller's web session,
``session_id`` = the session's id hash) and the browser's answer, checked by
:func:`otpgate.service._passkey_check.check_assertion`. A passwordless sign-in asks the
key for user verification (its PIN or biometrics) and a discoverable credential: the
key proves possession and the verified user, so it counts as both factors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from otpgate.service import _webauthn as wa
from otpgate.service._convert import user_view
from otpgate.service._passkey_challenge import put_challenge
from otpgate.service._passkey_check import Ask, check_assertion, known_keys
from otpgate.service._tx import load_active_user, unit_of_work
from otpgate.service.admin import read_policy
from otpgate.service.audit import AuditKind, record
from otpgate.service.errors import PasskeyReason, PasskeyRejected
from otpgate.service.passkeys import require_passkeys
from otpgate.service.views import SecondFactor, UserView
from otpgate.store import repositories as repo
from otpgate.store.models import User, WebAuthnCredential

if TYPE_CHECKING:
    from otpgate.service.context import Context, Origin

__all__ = [
    "PasskeySignIn",
    "passkey_sign_in",
    "passwordless_allowed",
    "passwordless_options",
    "second_step_options",
    "verify_passkey",
]


@dataclass(frozen=True)
class PasskeySignIn:
    """A passwordless sign-in: who signed in, and the factor (both factors at once)."""

    user: UserView
    factor: SecondFactor


def passwordless_allowed(ctx: Context) -> bool:
    """True when passkeys are set up and the policy lets them sign in without a password."""
    if not ctx.settings.passkeys.enabled:
        return False
    with unit_of_work(ctx) as session:
        return read_policy(session, ctx).passwordless


def second_step_options(ctx: Context, user_id: int, session_id: str) -> str:
    """Options (JSON) for the second step with one of the user's passkeys.

    :class:`PasskeyRejected` (``UNKNOWN``) when the user has none.
    """
    require_passkeys(ctx)
    with unit_of_work(ctx) as session:
        user = load_active_user(session, user_id)
        keys = repo.passkeys_of(session, user.id)
        if not keys:
            raise PasskeyRejected(PasskeyReason.UNKNOWN)
        options, challenge = wa.assertion_options(
            ctx.settings.passkeys, known_keys(keys), verify_user=False
        )
        put_challenge(session, ctx, session_id, "second_step", challenge, user.id)
        return options


def _success(
    session: Session,
    ctx: Context,
    origin: Origin,
    user: User,
    key: WebAuthnCredential,
    *,
    passwordless: bool,
) -> SecondFactor:
    detail = {
        "method": "passkey",
        "passkey_id": key.id,
        "credential": key.name,
        "passwordless": passwordless,
    }
    record(session, ctx, origin, AuditKind.LOGIN_OK, subject=user, detail=detail)
    return SecondFactor(
        method="passkey",
        credential_id=key.id,
        drift_seconds=None,
        recovery_codes_left=repo.recovery_codes_left(session, user.id),
    )


def verify_passkey(
    ctx: Context, origin: Origin, user_id: int, session_id: str, response: object
) -> SecondFactor:
    """The second step with the browser's answer (``PublicKeyCredential.toJSON()`` text).

    Raises :class:`PasskeyRejected` (``INVALID``, ``UNKNOWN``, ``CLONED``, ``EXPIRED``),
    :class:`AccountDisabled`, :class:`NotFound`, :class:`KeyUnavailable`.
    """
    require_passkeys(ctx)
    with unit_of_work(ctx) as session:
        user = load_active_user(session, user_id)
        ask = Ask(purpose="second_step", user=user)
        outcome = check_assertion(session, ctx, origin, session_id, ask, response)
        if not isinstance(outcome, PasskeyRejected):
            return _success(session, ctx, origin, user, outcome[1], passwordless=False)
    raise outcome


def passwordless_options(ctx: Context, session_id: str) -> str:
    """Options (JSON) for a sign-in without username or password: any discoverable
    passkey of this portal, with user verification.

    :class:`PasskeyRejected` (``NOT_ALLOWED``) unless the policy allows it.
    """
    require_passkeys(ctx)
    with unit_of_work(ctx) as session:
        if not read_policy(session, ctx).passwordless:
            raise PasskeyRejected(PasskeyReason.NOT_ALLOWED)
        options, challenge = wa.assertion_options(ctx.settings.passkeys, [], verify_user=True)
        put_challenge(session, ctx, session_id, "passwordless", challenge, None)
        return options


def passkey_sign_in(
    ctx: Context, origin: Origin, session_id: str, response: object
) -> PasskeySignIn:
    """Sign in with a discoverable passkey and user verification, without the password.

    Raises what :func:`verify_passkey` raises, and ``NOT_ALLOWED`` when the policy does
    not allow it (checked again: it may have changed since the options).
    """
    require_passkeys(ctx)
    with unit_of_work(ctx) as session:
        allowed = read_policy(session, ctx).passwordless
        ask = Ask(purpose="passwordless", user=None, verify_user=True)
        outcome = check_assertion(session, ctx, origin, session_id, ask, response)
        if not isinstance(outcome, PasskeyRejected):
            user, key = outcome
            if not allowed:
                raise PasskeyRejected(PasskeyReason.NOT_ALLOWED)
            factor = _success(session, ctx, origin, user, key, passwordless=True)
            return PasskeySignIn(user_view(session, user), factor)
    raise outcome
