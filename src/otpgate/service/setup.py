"""First-admin setup: on an empty database, a one-time token creates the first admin.

``otpgate serve`` prints a link holding a token from :func:`issue_setup_token`; only its
hash is stored (as the key of an app setting ``setup.token:<hash>``), so a database dump
cannot be used to take the instance over. Processes started together on an empty
database (two hosts, a service manager starting two) each print a link, and every one
of them works; a token issued :data:`SETUP_TOKEN_OVERLAP_SECONDS` or more after the
others replaces them, as a restart's link replaces the one printed before. A token
works once and only while no account exists; the first link used creates the admin and
ends the others; of two browsers racing with the same link, one creates the admin. The
password was typed just now, so the new admin is logged in at once; under the default
policy (2FA required of admins) that login can only enrol an authenticator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from otpgate.security.tokens import hash_token, new_token
from otpgate.service._convert import user_view
from otpgate.service._tx import unit_of_work
from otpgate.service.admin import read_policy, requires_2fa
from otpgate.service.audit import AuditKind, record
from otpgate.service.errors import NotPermitted
from otpgate.service.users import insert_user
from otpgate.service.views import PasswordStep
from otpgate.store import repositories as repo

if TYPE_CHECKING:
    from otpgate.service.context import Context, Origin

__all__ = [
    "SETUP_TOKEN_OVERLAP_SECONDS",
    "SETUP_TOKEN_PREFIX",
    "complete_setup",
    "issue_setup_token",
    "setup_token_needed",
]

SETUP_TOKEN_PREFIX = "setup.token:"
SETUP_TOKEN_OVERLAP_SECONDS = 60
_MAX_TOKEN_LENGTH = 200
_REFUSED = "This setup link is not valid (already used, replaced, or setup is done)."


def setup_token_needed(ctx: Context) -> bool:
    """True while no account exists: the instance still needs its first admin."""
    with unit_of_work(ctx) as session:
        return repo.count_users(session) == 0


def issue_setup_token(ctx: Context) -> str | None:
    """A new one-time setup token (replacing any earlier one), or None once a user exists."""
    token = new_token()
    now = int(ctx.clock.now())
    with unit_of_work(ctx) as session:
        if repo.count_users(session) > 0:
            return None
        # One row per token, the value its issue time: processes issuing at the same time
        # never overwrite each other's token, and only those older than the overlap go.
        for key, issued in repo.settings_like(session, SETUP_TOKEN_PREFIX).items():
            if not issued.isdigit() or int(issued) <= now - SETUP_TOKEN_OVERLAP_SECONDS:
                repo.delete_setting(session, key)
        repo.set_setting(session, SETUP_TOKEN_PREFIX + hash_token(token), str(now))
    return token


def complete_setup(
    ctx: Context, origin: Origin, token: str, username: str, password: str
) -> PasswordStep:
    """Create the first admin with a valid setup token, and consume the token.

    Returns the login step the new admin is at, as after a correct password: with no
    second factor yet, ``must_enrol`` says whether the policy wants one first.

    Raises :class:`NotPermitted` for a wrong, replaced or used token or once a user exists
    (checked before the other fields, so the link's validity is all a stranger learns);
    :class:`InvalidInput` for a bad username or weak password (the token stays valid).
    """
    if not isinstance(token, str) or not 1 <= len(token) <= _MAX_TOKEN_LENGTH:
        raise NotPermitted(_REFUSED)
    digest = hash_token(token)
    with unit_of_work(ctx) as session:
        if repo.count_users(session) > 0:
            raise NotPermitted(_REFUSED)
        # Every link ends here; this one is good only if this request removed its row, so
        # of requests racing with the same link or with different ones, one goes on.
        if SETUP_TOKEN_PREFIX + digest not in repo.delete_settings_like(
            session, SETUP_TOKEN_PREFIX
        ):
            raise NotPermitted(_REFUSED)
        user = insert_user(
            session,
            ctx,
            origin,
            username=username,
            password=password,
            is_admin=True,
        )
        record(session, ctx, origin, AuditKind.SETUP_COMPLETED, subject=user)
        must_enrol = requires_2fa(read_policy(session, ctx), is_admin=True)
        return PasswordStep(user_view(session, user), needs_second_factor=False,
                            must_enrol=must_enrol)
