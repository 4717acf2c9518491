"""What administrators do to other accounts: reset 2FA, unlock, and the run-time policy.

A 2FA reset is the riskiest thing an admin does (it is how an attacker who talked a help
desk into it takes an account over), so it needs a written note of the identity check,
which goes into the audit row, and an admin cannot reset their own 2FA. A reset ends every
session of the user at once (portal and forward auth): whoever was logged in as them
must log in again and enrol a new authenticator.

From the portal, resetting and changing the policy need a fresh full step-up of the admin
(``step_up_at``, see :mod:`otpgate.service.admin_step_up`). 2FA is required of
administrators unless an admin turned that off: an unset ``policy.require_admins`` is on.

``actor_id`` may be None only from an operator channel (CLI or admin-scoped API token):
see :mod:`otpgate.service._actors`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from otpgate.service._actors import load_admin_actor, load_stepped_up_admin
from otpgate.service._convert import has_active_credential
from otpgate.service._scopes import clear_user_throttles, user_locked_until
from otpgate.service._text import note_text
from otpgate.service._tx import load_user, unit_of_work
from otpgate.service.audit import AuditKind, record
from otpgate.service.errors import InvalidInput, NotPermitted
from otpgate.service.views import Policy
from otpgate.store import repositories as repo

if TYPE_CHECKING:
    from otpgate.service.context import Context, Origin

__all__ = [
    "ISSUER_KEY",
    "MIN_NOTE_LENGTH",
    "REQUIRE_ADMINS_KEY",
    "REQUIRE_ALL_KEY",
    "check_identity_note",
    "get_policy",
    "lock_state",
    "must_enrol",
    "read_policy",
    "requires_2fa",
    "reset_2fa",
    "set_policy",
    "unlock_user",
]

# app_settings keys; booleans are stored as "true" / "false".
REQUIRE_ALL_KEY = "policy.require_all"
REQUIRE_ADMINS_KEY = "policy.require_admins"
PASSWORDLESS_KEY = "policy.passwordless"
ISSUER_KEY = "issuer"
MIN_NOTE_LENGTH = 10
_MAX_NOTE_LENGTH = 1000
_MAX_ISSUER_LENGTH = 64


def check_identity_note(note: object) -> str:
    """The note saying how a person's identity was checked (admin reset, bypass code):
    text without control characters, line breaks kept, 10 to 1000 characters."""
    note = note_text(note, "identity-check note")
    if len(note) < MIN_NOTE_LENGTH:
        raise InvalidInput(
            f"Describe the identity check you made (at least {MIN_NOTE_LENGTH} characters)."
        )
    if len(note) > _MAX_NOTE_LENGTH:
        raise InvalidInput(f"The note must be at most {_MAX_NOTE_LENGTH} characters.")
    return note


def reset_2fa(
    ctx: Context,
    origin: Origin,
    actor_id: int | None,
    user_id: int,
    note: str,
    *,
    step_up_at: datetime | None = None,
) -> None:
    """Remove every authenticator (pending too), recovery code, trusted device and session
    of a user.

    Also clears the user's throttles, so they can log in with the password and enrol
    again. ``note`` says how the person's identity was checked; it is audited.
    """
    checked_note = check_identity_note(note)
    with unit_of_work(ctx) as session:
        actor = load_stepped_up_admin(session, ctx, origin, actor_id, step_up_at)
        user = load_user(session, user_id)
        if actor is not None and actor.id == user.id:
            raise NotPermitted("Ask another administrator to reset your own two-factor login.")
        detail = {
            "note": checked_note,
            "credentials": repo.delete_credentials(session, user.id),
            "passkeys": repo.delete_passkeys(session, user.id),
            "recovery_codes": repo.delete_recovery_codes(session, user.id),
            "devices": repo.delete_trusted_devices(session, user.id),
            "throttles": clear_user_throttles(session, user.id),
            "sessions": repo.delete_sessions_of(session, user.id),
        }
        record(
            session, ctx, origin, AuditKind.TWOFA_RESET, actor=actor, subject=user, detail=detail
        )


def unlock_user(ctx: Context, origin: Origin, actor_id: int | None, user_id: int) -> None:
    """Clear every throttle of the user (failure counts and locks) and audit it."""
    with unit_of_work(ctx) as session:
        actor = load_admin_actor(session, origin, actor_id)
        user = load_user(session, user_id)
        cleared = clear_user_throttles(session, user.id)
        record(
            session,
            ctx,
            origin,
            AuditKind.USER_UNLOCKED,
            actor=actor,
            subject=user,
            detail={"throttles": cleared},
        )


def lock_state(ctx: Context, user_id: int) -> datetime | None:
    """The latest time until which any throttle of the user is locked, if still ahead."""
    with unit_of_work(ctx) as session:
        user = load_user(session, user_id)
        return user_locked_until(session, user.id, ctx.now_dt())


def read_policy(session: Session, ctx: Context) -> Policy:
    """The policy within the caller's transaction; unset keys fall back to the settings."""
    issuer = repo.get_setting(session, ISSUER_KEY)
    return Policy(
        require_all=repo.get_setting(session, REQUIRE_ALL_KEY) == "true",
        require_admins=repo.get_setting(session, REQUIRE_ADMINS_KEY) != "false",
        issuer=issuer if issuer else ctx.settings.issuer,
        passwordless=repo.get_setting(session, PASSWORDLESS_KEY) == "true",
    )


def requires_2fa(policy: Policy, is_admin: bool) -> bool:
    """Whether the policy demands a second factor of an account (admin or not)."""
    return policy.require_all or (policy.require_admins and is_admin)


def must_enrol(ctx: Context, user_id: int) -> bool:
    """True when the policy demands 2FA of this user and none is active: such a session
    may only enrol (as after the password step)."""
    with unit_of_work(ctx) as session:
        user = load_user(session, user_id)
        policy = read_policy(session, ctx)
        return requires_2fa(policy, user.is_admin) and not has_active_credential(
            session, user.id
        )


def get_policy(ctx: Context) -> Policy:
    """Who must use 2FA, and the issuer name shown in authenticator apps."""
    with unit_of_work(ctx) as session:
        return read_policy(session, ctx)


def _check_issuer(issuer: object) -> str:
    if not isinstance(issuer, str):
        raise InvalidInput("The issuer must be text.")
    issuer = issuer.strip()
    if not 1 <= len(issuer) <= _MAX_ISSUER_LENGTH or not issuer.isprintable():
        raise InvalidInput(
            f"The issuer must be 1 to {_MAX_ISSUER_LENGTH} printable characters."
        )
    if ":" in issuer:
        # The otpauth label is "issuer:account"; apps split it on the first colon.
        raise InvalidInput("The issuer cannot contain ':'.")
    return issuer


def set_policy(
    ctx: Context,
    origin: Origin,
    actor_id: int | None,
    *,
    require_all: bool,
    require_admins: bool,
    issuer: str,
    passwordless: bool | None = None,
    step_up_at: datetime | None = None,
) -> Policy:
    """Store the policy and audit the change (old and new values); returns the new policy.

    ``passwordless`` None keeps the stored choice.
    """
    flags = (require_all, require_admins, passwordless)
    if not all(isinstance(f, bool) for f in flags[:2]) or not isinstance(passwordless, bool | None):
        raise InvalidInput("require_all, require_admins and passwordless must be true or false.")
    checked_issuer = _check_issuer(issuer)
    with unit_of_work(ctx) as session:
        actor = load_stepped_up_admin(session, ctx, origin, actor_id, step_up_at)
        old = read_policy(session, ctx)
        new = Policy(
            require_all=require_all,
            require_admins=require_admins,
            issuer=checked_issuer,
            passwordless=old.passwordless if passwordless is None else passwordless,
        )
        repo.set_setting(session, PASSWORDLESS_KEY, _flag(new.passwordless))
        repo.set_setting(session, REQUIRE_ALL_KEY, _flag(require_all))
        repo.set_setting(session, REQUIRE_ADMINS_KEY, _flag(require_admins))
        repo.set_setting(session, ISSUER_KEY, checked_issuer)
        record(
            session,
            ctx,
            origin,
            AuditKind.POLICY_CHANGED,
            actor=actor,
            detail={"old": _policy_dict(old), "new": _policy_dict(new)},
        )
        return new


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _policy_dict(policy: Policy) -> dict[str, object]:
    return {
        "require_all": policy.require_all,
        "require_admins": policy.require_admins,
        "issuer": policy.issuer,
        "passwordless": policy.passwordless,
    }
