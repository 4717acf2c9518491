"""API tokens: bearer credentials of other systems, created by admins, scoped, revocable.

A token is ``otpg_`` followed by 256 random bits (URL-safe base64); the prefix lets secret
scanners and people recognise it. Only its SHA-256 hash is stored: a random token of that
size needs no slow hash. The plain token is returned once, at creation.

Scopes: ``verify`` (check passwords and codes), ``enrol`` (start and confirm an enrolment
for a user), ``admin`` (admin use cases such as a 2FA reset). The API adapter checks that
the scope it needs is among those :func:`authenticate_api_token` returns.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from otpgate.security.tokens import hash_token, new_token
from otpgate.service._actors import load_admin_actor
from otpgate.service._tx import check_id, unit_of_work
from otpgate.service.audit import AuditKind, record
from otpgate.service.errors import InvalidInput, NotFound, NotPermitted
from otpgate.service.views import ApiTokenView
from otpgate.store import repositories as repo
from otpgate.store.models import ApiToken

if TYPE_CHECKING:
    from otpgate.service.context import Context, Origin

__all__ = [
    "SCOPES",
    "TOKEN_PREFIX",
    "authenticate_api_token",
    "create_api_token",
    "list_api_tokens",
    "revoke_api_token",
]

SCOPES = frozenset({"verify", "enrol", "admin"})
TOKEN_PREFIX = "otpg_"
_TOKEN_BYTES = 32
_MAX_TOKEN_LENGTH = 200
_MAX_NAME_LENGTH = 100
# last_used_at is written at most once a minute per token: every API call would otherwise
# be a write, and a busy verifier would serialise on that one row.
_LAST_USED_RESOLUTION = timedelta(seconds=60)


def _check_name(name: object) -> str:
    if not isinstance(name, str):
        raise InvalidInput("The token name must be text.")
    name = name.strip()
    if not 1 <= len(name) <= _MAX_NAME_LENGTH or not name.isprintable():
        raise InvalidInput(f"The token name must be 1 to {_MAX_NAME_LENGTH} printable characters.")
    return name


def _check_scopes(scopes: object) -> frozenset[str]:
    if isinstance(scopes, str) or not isinstance(scopes, set | frozenset | list | tuple):
        raise InvalidInput("Scopes must be a set of: admin, enrol, verify.")
    if not scopes or not all(isinstance(s, str) and s in SCOPES for s in scopes):
        raise InvalidInput("Scopes must be a non-empty set of: admin, enrol, verify.")
    return frozenset(scopes)


def create_api_token(
    ctx: Context, origin: Origin, actor_id: int | None, name: str, scopes: set[str]
) -> str:
    """Create a token with these scopes; returns the plain token, which is never shown again."""
    checked_name = _check_name(name)
    checked_scopes = _check_scopes(scopes)
    token = TOKEN_PREFIX + new_token(_TOKEN_BYTES)
    with unit_of_work(ctx) as session:
        actor = load_admin_actor(session, origin, actor_id)
        created_by = actor.username if actor is not None else origin.user_agent or origin.source
        row = repo.add_api_token(
            session,
            name=checked_name,
            token_hash=hash_token(token),
            scopes=" ".join(sorted(checked_scopes)),
            created_by=created_by[:150],
            created_at=ctx.now_dt(),
        )
        session.flush()
        record(
            session,
            ctx,
            origin,
            AuditKind.API_TOKEN_CREATED,
            actor=actor,
            detail={"token_id": row.id, "name": checked_name, "scopes": sorted(checked_scopes)},
        )
    return token


def authenticate_api_token(ctx: Context, token: str) -> frozenset[str]:
    """The scopes of a valid token; :class:`NotPermitted` if malformed, unknown or revoked."""
    if (
        not isinstance(token, str)
        or not token.startswith(TOKEN_PREFIX)
        or len(token) > _MAX_TOKEN_LENGTH
    ):
        raise NotPermitted("Invalid API token.")
    # The lookup is by hash, so timing reveals nothing about stored tokens.
    digest = hash_token(token)
    with unit_of_work(ctx) as session:
        row = repo.find_api_token(session, digest)
        if row is None or row.revoked_at is not None:
            raise NotPermitted("Invalid API token.")
        now = ctx.now_dt()
        if row.last_used_at is None or now - row.last_used_at >= _LAST_USED_RESOLUTION:
            row.last_used_at = now
        return frozenset(row.scopes.split())


def _view(row: ApiToken) -> ApiTokenView:
    return ApiTokenView(
        id=row.id,
        name=row.name,
        scopes=frozenset(row.scopes.split()),
        created_by=row.created_by,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


def list_api_tokens(ctx: Context) -> list[ApiTokenView]:
    """Every token, revoked ones included (they show when they were revoked)."""
    with unit_of_work(ctx) as session:
        return [_view(row) for row in repo.list_api_tokens(session)]


def revoke_api_token(ctx: Context, origin: Origin, actor_id: int | None, token_id: int) -> None:
    """Revoke a token at once; revoking a revoked token changes nothing."""
    checked_id = check_id(token_id, "token id")
    with unit_of_work(ctx) as session:
        actor = load_admin_actor(session, origin, actor_id)
        row = session.get(ApiToken, checked_id)
        if row is None:
            raise NotFound("No such API token.")
        if not repo.revoke_api_token(session, row.id, ctx.now_dt()):
            return
        record(
            session,
            ctx,
            origin,
            AuditKind.API_TOKEN_REVOKED,
            actor=actor,
            detail={"token_id": row.id, "name": row.name},
        )
