"""API tokens: bearer credentials of other systems, created by admins, scoped, revocable.

A token is ``otpg_`` followed by 256 random bits (URL-safe base64); the prefix lets secret
scanners and people recognise it. Only its SHA-256 hash is stored: a random token of that
size needs no slow hash. The plain token is returned once, at creation.

Scopes: ``verify`` (check passwords and codes), ``enrol`` (start and confirm an enrolment
for a user), ``admin`` (admin use cases such as a 2FA reset). The API adapter checks that
the scope it needs is among those :func:`authenticate_api_token` returns.

A valid token's scopes are remembered in the process for :data:`CACHE_SECONDS` (keyed by the
token's hash), so a busy verifier does not open a transaction per call just to check its
bearer token. Revoking a token therefore takes effect at once in the process that revokes
it, and within :data:`CACHE_SECONDS` in every other process. Unknown and revoked tokens
are never remembered.
"""

from __future__ import annotations

import threading
import weakref
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from otpgate.security.tokens import hash_token, new_token
from otpgate.service._actors import load_admin_actor, load_stepped_up_admin
from otpgate.service._text import refuse_controls
from otpgate.service._tx import check_id, unit_of_work
from otpgate.service.audit import AuditKind, record
from otpgate.service.errors import InvalidInput, NotFound, NotPermitted
from otpgate.service.views import ApiTokenView
from otpgate.store import repositories as repo
from otpgate.store.models import ApiToken

if TYPE_CHECKING:
    from otpgate.service.context import Context, Origin

__all__ = [
    "CACHE_SECONDS",
    "SCOPES",
    "TOKEN_PREFIX",
    "authenticate_api_token",
    "cached_scopes",
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
#: How long a process trusts a token it has checked: the bound on a revocation's delay in
#: the other processes.
CACHE_SECONDS = 5.0
_CACHE_MAX = 1000


class _TokenCache:
    """Scopes of recently checked valid tokens, per database (session factory)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, frozenset[str]]] = {}

    def get(self, digest: str, now: float) -> frozenset[str] | None:
        with self._lock:
            entry = self._entries.get(digest)
        if entry is None:
            return None
        checked_at, scopes = entry
        # A clock that went back also makes the entry stale.
        if not 0 <= now - checked_at < CACHE_SECONDS:
            return None
        return scopes

    def put(self, digest: str, now: float, scopes: frozenset[str]) -> None:
        with self._lock:
            if len(self._entries) >= _CACHE_MAX:
                self._entries.clear()  # only many distinct tokens get here; start again
            self._entries[digest] = (now, scopes)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_caches: weakref.WeakKeyDictionary[object, _TokenCache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def _cache(ctx: Context) -> _TokenCache:
    with _caches_lock:
        cache = _caches.get(ctx.session_factory)
        if cache is None:
            cache = _caches[ctx.session_factory] = _TokenCache()
        return cache


def _check_name(name: object) -> str:
    if not isinstance(name, str):
        raise InvalidInput("The token name must be text.")
    refuse_controls(name, "token name")
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
    ctx: Context,
    origin: Origin,
    actor_id: int | None,
    name: str,
    scopes: set[str],
    *,
    step_up_at: datetime | None = None,
) -> str:
    """Create a token with these scopes; returns the plain token, which is never shown again.

    A token is the step-up point of the API: an admin-scoped token acts without asking
    again, so creating one from the portal needs the admin's fresh full step-up
    (:class:`StepUpRequired`); the CLI runs as root on the host and needs none.
    """
    checked_name = _check_name(name)
    checked_scopes = _check_scopes(scopes)
    token = TOKEN_PREFIX + new_token(_TOKEN_BYTES)
    with unit_of_work(ctx) as session:
        actor = load_stepped_up_admin(session, ctx, origin, actor_id, step_up_at)
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


def _well_formed(token: object) -> bool:
    return (
        isinstance(token, str)
        and token.startswith(TOKEN_PREFIX)
        and len(token) <= _MAX_TOKEN_LENGTH
    )


def cached_scopes(ctx: Context, token: str) -> frozenset[str] | None:
    """The scopes of ``token`` if this process found it valid less than
    :data:`CACHE_SECONDS` ago, without touching the database (so an async caller needs no
    thread); None otherwise: then ask :func:`authenticate_api_token`, which decides."""
    if not _well_formed(token):
        return None
    return _cache(ctx).get(hash_token(token), ctx.clock.now())


def authenticate_api_token(ctx: Context, token: str) -> frozenset[str]:
    """The scopes of a valid token; :class:`NotPermitted` if malformed, unknown or revoked.

    A valid token is remembered for :data:`CACHE_SECONDS` (see the module's note).
    """
    if not _well_formed(token):
        raise NotPermitted("Invalid API token.")
    # The lookup is by hash, so timing reveals nothing about stored tokens.
    digest = hash_token(token)
    cache = _cache(ctx)
    checked_at = ctx.clock.now()
    scopes = cache.get(digest, checked_at)
    if scopes is not None:
        return scopes
    with unit_of_work(ctx) as session:
        row = repo.find_api_token(session, digest)
        if row is None or row.revoked_at is not None:
            raise NotPermitted("Invalid API token.")
        now = ctx.now_dt()
        if row.last_used_at is None or now - row.last_used_at >= _LAST_USED_RESOLUTION:
            row.last_used_at = now
        scopes = frozenset(row.scopes.split())
    cache.put(digest, checked_at, scopes)
    return scopes


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
        revoked = repo.revoke_api_token(session, row.id, ctx.now_dt())
        if revoked:
            record(
                session,
                ctx,
                origin,
                AuditKind.API_TOKEN_REVOKED,
                actor=actor,
                detail={"token_id": row.id, "name": row.name},
            )
    # After the commit (a check in between would remember the token again): at once in
    # this process, within CACHE_SECONDS in the others. Also when it was already revoked,
    # perhaps by another process.
    _cache(ctx).clear()
