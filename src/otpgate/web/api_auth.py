"""Who is calling the API: the bearer token, its scopes, and the request's origin.

API tokens are created by admins (``create_api_token``), stored hashed and checked by the
service (``authenticate_api_token``); this module only reads the header and compares the
granted scopes with the ones a route accepts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from otpgate.service import api_tokens
from otpgate.service.context import Context, Origin
from otpgate.service.errors import NotPermitted
from otpgate.web.api_errors import ApiError
from otpgate.web.sessions import client_info

__all__ = ["SCOPES", "ApiCaller", "api_context", "api_origin", "require_scope"]

SCOPES = ("verify", "enrol", "admin")

_MAX_TOKEN_CHARS = 256

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiToken",
    description="An API token created by an admin: `Authorization: Bearer otpg_…`. "
    "Each endpoint names the scopes it accepts (verify, enrol, admin).",
)

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="otpgate"'}


@dataclass(frozen=True)
class ApiCaller:
    """An authenticated API request: the app's context, where it came from, its scopes."""

    ctx: Context
    origin: Origin
    scopes: frozenset[str]


def api_context(request: Request) -> Context:
    """The service context the app was built with (``app.state.ctx``)."""
    ctx = getattr(request.app.state, "ctx", None)
    if not isinstance(ctx, Context):
        raise RuntimeError("the app has no service context in app.state.ctx")
    return ctx


def api_origin(request: HTTPConnection, ctx: Context) -> Origin:
    """Origin "api" with the client address and user agent, read as the pages read them
    (proxy headers count only when the operator trusts them)."""
    info = client_info(request, ctx.settings.trust_proxy_headers)
    return Origin("api", client_addr=info.addr, user_agent=info.user_agent)


def require_scope(*accepted: str) -> Callable[..., Awaitable[ApiCaller]]:
    """A dependency: a valid token granting at least one of ``accepted`` scopes."""
    unknown = set(accepted) - set(SCOPES)
    if not accepted or unknown:
        raise ValueError(f"unknown scopes {sorted(unknown)}")
    wanted = " or ".join(accepted)

    async def authenticated(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> ApiCaller:
        if credentials is None:
            raise ApiError(
                401, "missing_token", "Send an API token: Authorization: Bearer <token>.",
                headers=_CHALLENGE,
            )
        token = credentials.credentials.strip()
        ctx = api_context(request)
        try:
            if not token or len(token) > _MAX_TOKEN_CHARS:
                raise NotPermitted()
            # A token checked a moment ago is answered from memory, on the event loop;
            # only a check that reads the database goes to a worker thread.
            cached = api_tokens.cached_scopes(ctx, token)
            scopes = (
                cached
                if cached is not None
                else await run_in_threadpool(api_tokens.authenticate_api_token, ctx, token)
            )
        except NotPermitted:
            raise ApiError(
                401, "invalid_token", "The API token is unknown or revoked.",
                headers={"WWW-Authenticate": 'Bearer realm="otpgate", error="invalid_token"'},
            ) from None
        if not scopes & set(accepted):
            raise ApiError(
                403, "insufficient_scope", f"This API token needs the {wanted} scope.",
                headers={
                    "WWW-Authenticate": f'Bearer realm="otpgate", error="insufficient_scope", '
                    f'scope="{" ".join(accepted)}"'
                },
            )
        return ApiCaller(ctx=ctx, origin=api_origin(request, ctx), scopes=frozenset(scopes))

    authenticated.__name__ = f"token_with_{'_or_'.join(accepted)}"
    return authenticated
