"""The JSON API (``/api/v1``) for other portals and scripts, documented in ``/openapi.json``.

Each endpoint parses its input, checks the token's scope, calls one service use case per
step and renders the result. Replay protection, throttling, password and code rules are
the service's, so a code checked here behaves exactly as one typed in the portal.

Scopes (a token may hold several; none implies another):

- ``verify``: check a user's code (and optionally password); read a user's 2FA status.
- ``enrol``: start and confirm an enrolment for a user; read a user's 2FA status. The token
  stands for a privileged integration that has itself authenticated the user: the API
  passes the request time as the step-up time, so no password is asked again.
- ``admin``: reset a user's 2FA (with the identity-check note), read the audit log and any
  user's 2FA status. Events are audited with source ``api`` and no actor name.

Include :data:`router` in the app and call
:func:`otpgate.web.api_errors.install_api_error_handlers` on it.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import AwareDatetime

from otpgate.service import admin, audit, enrolment, login, passkeys, recovery, users
from otpgate.web import api_docs, api_factors
from otpgate.web.api_auth import ApiCaller, require_scope
from otpgate.web.api_errors import ApiRoute
from otpgate.web.api_models import (
    ROW_ID_MAX,
    AuditEvent,
    AuditPage,
    Authenticator,
    ConfirmRequest,
    ConfirmResult,
    EnrolmentRequest,
    EnrolmentStarted,
    ErrorBody,
    Passkey,
    ResetRequest,
    ResetResult,
    TwoFactorStatus,
    VerifyRequest,
    VerifyResult,
)
from otpgate.web.headers import SECURITY_HEADERS

__all__ = ["NDJSON", "router", "verify_request"]

NDJSON = "application/x-ndjson"

VerifyCaller = Annotated[ApiCaller, Depends(require_scope("verify"))]
EnrolCaller = Annotated[ApiCaller, Depends(require_scope("enrol"))]
AdminCaller = Annotated[ApiCaller, Depends(require_scope("admin"))]
AnyCaller = Annotated[ApiCaller, Depends(require_scope("verify", "enrol", "admin"))]
Username = Annotated[
    str, Path(min_length=1, max_length=150, description="The user's login name.")
]


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI descriptions of the error responses a route can give (all one shape)."""
    text = {
        400: "Malformed request or value (`invalid_request`, `malformed_request`, "
        "`invalid_input`, `code_rejected` with reason `malformed`).",
        401: "Missing or invalid API token (`missing_token`, `invalid_token`), wrong "
        "password (`authentication_failed`) or code (`code_rejected`, reason `wrong` or "
        "`replayed`).",
        403: "The token lacks the scope (`insufficient_scope`), or the account is disabled "
        "(`account_disabled`), or the action is not permitted (`not_permitted`).",
        404: "No such user or authenticator (`not_found`).",
        409: "State conflict: `already_enrolled`, `not_enrolled`, `enrolment_expired`, "
        "`conflict`.",
        423: "Too many failures (`locked`): refused until `until`, even with a correct code; "
        "`Retry-After` gives the seconds to wait.",
    }
    responses: dict[int | str, dict[str, Any]] = {
        s: {"model": ErrorBody, "description": text[s]} for s in (400, 401, 403, *statuses)
    }
    # Declaring "default" also replaces FastAPI's generic 422 entry, which this API never
    # sends: validation errors are 400 in the shape above.
    responses["default"] = {
        "model": ErrorBody,
        "description": "Any other error (500 `internal_error`, 503 `unavailable` or "
        "`key_unavailable`), same shape.",
    }
    return responses


v1 = APIRouter(prefix="/api/v1", route_class=ApiRoute, tags=["API v1"])


@v1.post(
    "/verify",
    summary="Check a user's one-time code (optionally with the password)",
    description="With `password`, the password is checked first (failures count against the "
    "same throttle as the login page; an unknown user is reported as a wrong password). "
    "Then the code is checked against every active authenticator of the user: a code is "
    "accepted once, never again nor any older one. Instead of `code`, a `recovery_code` "
    "may be given; it is consumed. Scope: `verify`.",
    response_model=VerifyResult,
    responses=_errors(404, 409, 423),
)
async def verify(body: VerifyRequest, caller: VerifyCaller) -> Response:
    # The busiest route: one hop to a worker thread for the whole check, and the answer
    # serialised here (FastAPI would validate a returned model in a second thread hop).
    result = await run_in_threadpool(verify_request, body, caller)
    return Response(result.model_dump_json(), media_type="application/json")


def verify_request(body: VerifyRequest, caller: ApiCaller) -> VerifyResult:
    """The check of a verify request, in the calling (worker) thread: here and in
    :mod:`otpgate.web.api_fast_verify`."""
    ctx, origin = caller.ctx, caller.origin
    if body.password is None and body.code is not None:
        # The busy case (code alone): name lookup and check in one transaction.
        username, factor = login.verify_code_by_name(ctx, origin, body.username, body.code)
        return VerifyResult.of(username, factor)
    if body.password is not None:
        user = login.check_password(ctx, origin, body.username, body.password).user
    else:
        user = users.find_user(ctx, body.username)
    if body.code is not None:
        factor = login.verify_code(ctx, origin, user.id, body.code)
    else:
        factor = login.verify_recovery_code(ctx, origin, user.id, body.recovery_code or "")
    return VerifyResult.of(user.username, factor)


@v1.post(
    "/users/{username}/enrolments",
    status_code=201,
    summary="Start adding an authenticator for a user",
    description="Returns the secret, the otpauth URI and a QR code (SVG) to show to the user; "
    "nothing changes for the user's logins until the enrolment is confirmed with a first "
    "code before `expires_at`. The response holds the secret: it is sent with "
    "`Cache-Control: no-store` and must not be logged. Scope: `enrol` (a privileged "
    "integration: no password step-up is asked).",
    response_model=EnrolmentStarted,
    responses=_errors(404, 409),
)
def start_enrolment(
    username: Username, body: EnrolmentRequest, caller: EnrolCaller, response: Response
) -> EnrolmentStarted:
    ctx = caller.ctx
    user = users.find_user(ctx, username)
    # The enrol-scoped token is the proof of authority the step-up stands for in the
    # portal, so the step-up time is "now" (the service's clock).
    pending = enrolment.begin_enrolment(
        ctx, caller.origin, user.id, step_up_at=ctx.now_dt(), kind=body.kind, name=body.name
    )
    response.headers["Cache-Control"] = "no-store"
    return EnrolmentStarted.of(pending)


@v1.post(
    "/users/{username}/enrolments/{credential_id}/confirm",
    summary="Confirm an enrolment with the first code from the authenticator",
    description="Activates the authenticator. When it is the user's first one, 2FA is now on "
    "and the response holds new recovery codes, shown only this once "
    "(`Cache-Control: no-store`). Scope: `enrol`.",
    response_model=ConfirmResult,
    responses=_errors(404, 409, 423),
)
def confirm_enrolment(
    username: Username,
    credential_id: Annotated[
        int, Path(ge=1, le=ROW_ID_MAX, description="The `credential_id` from the start.")
    ],
    body: ConfirmRequest,
    caller: EnrolCaller,
    response: Response,
) -> ConfirmResult:
    ctx = caller.ctx
    user = users.find_user(ctx, username)
    codes = enrolment.confirm_enrolment(
        ctx, caller.origin, user.id, credential_id, body.code, body.name
    )
    response.headers["Cache-Control"] = "no-store"
    return ConfirmResult(credential_id=credential_id, recovery_codes=codes)


@v1.get(
    "/users/{username}/2fa",
    summary="A user's two-factor status",
    description="Whether 2FA is on, the confirmed authenticators and passkeys, how many "
    "recovery codes are "
    "left, and whether code checks are locked after failures. Scope: any of `verify`, "
    "`enrol`, `admin`.",
    response_model=TwoFactorStatus,
    responses=_errors(404),
)
def two_factor_status(username: Username, caller: AnyCaller) -> TwoFactorStatus:
    ctx = caller.ctx
    user = users.find_user(ctx, username)
    return TwoFactorStatus(
        username=user.username,
        is_active=user.is_active,
        enabled=user.has_2fa,
        authenticators=[Authenticator.of(c) for c in enrolment.list_credentials(ctx, user.id)],
        passkeys=[Passkey.of(k) for k in passkeys.list_passkeys(ctx, user.id)],
        recovery_codes_left=recovery.recovery_codes_left(ctx, user.id),
        locked_until=admin.lock_state(ctx, user.id),
    )


@v1.post(
    "/users/{username}/2fa/reset",
    summary="Reset a user's 2FA after checking their identity",
    description="Removes every authenticator, passkey, recovery code and trusted device of the "
    "user and clears their throttles; `note` (at least 10 characters) says how the person's "
    "identity was checked and goes into the audit log. Scope: `admin`.",
    response_model=ResetResult,
    responses=_errors(404),
)
def reset_two_factor(username: Username, body: ResetRequest, caller: AdminCaller) -> ResetResult:
    ctx = caller.ctx
    user = users.find_user(ctx, username)
    # No actor id: the admin-scoped token is the operator's authority (audited as "api").
    admin.reset_2fa(ctx, caller.origin, None, user.id, body.note)
    return ResetResult(username=user.username)


@v1.get(
    "/audit",
    summary="Query the audit log",
    description="Events newest first, filtered by subject user, kind and time range "
    "(`since` inclusive, `until` exclusive; times with a zone, e.g. `2030-01-01T00:00:00Z`). "
    f"JSON pages by `limit`/`offset`; with `Accept: {NDJSON}` every matching event is "
    "streamed as JSON lines (`limit` and `offset` do not apply). Scope: `admin`.",
    response_model=AuditPage,
    responses={
        **_errors(404),
        200: {
            "description": "A page of events, or JSON lines.",
            "content": {NDJSON: {"schema": {"type": "string"}}},
        },
    },
)
def query_audit(
    request: Request,
    caller: AdminCaller,
    *,
    user: Annotated[
        str | None, Query(min_length=1, max_length=150, description="Subject's username.")
    ] = None,
    kind: Annotated[
        str | None, Query(max_length=64, description="Event kind.", examples=["2fa.reset"])
    ] = None,
    since: Annotated[
        AwareDatetime | None, Query(description="Only events at or after this time.")
    ] = None,
    until: Annotated[
        AwareDatetime | None, Query(description="Only events before this time.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Page size (JSON).")] = 100,
    offset: Annotated[int, Query(ge=0, description="Events to skip (JSON).")] = 0,
) -> Response | AuditPage:
    ctx = caller.ctx
    if NDJSON in request.headers.get("accept", ""):
        lines = audit.export_audit_jsonl(ctx, username=user, kind=kind, since=since, until=until)
        return _stream(lines)
    views = audit.query_audit(
        ctx, username=user, kind=kind, since=since, until=until, limit=limit, offset=offset
    )
    return AuditPage(events=[AuditEvent.of(v) for v in views], limit=limit, offset=offset)


def _stream(lines: Iterator[str]) -> StreamingResponse:
    # Take the first line now: a bad filter or unknown user raises here, while an error
    # response can still be sent, instead of after the 200 status line.
    first = next(lines, None)
    body = chain([] if first is None else [first], lines)
    return StreamingResponse(body, media_type=NDJSON, headers={"Cache-Control": "no-store"})


def _docs(request: Request) -> HTMLResponse:
    # The API has no page middleware: this one page carries the portal's headers itself.
    headers = {**SECURITY_HEADERS, "Cache-Control": "no-store"}
    return HTMLResponse(api_docs.render(request.app.openapi()), headers=headers)


docs_router = APIRouter(route_class=ApiRoute)
docs_router.add_api_route(
    "/api/docs", _docs, methods=["GET"], include_in_schema=False, response_class=HTMLResponse
)

#: Everything the app includes: the v1 endpoints and the human-readable docs page.
router = APIRouter()
router.include_router(v1)
router.include_router(api_factors.v1)
router.include_router(docs_router)
