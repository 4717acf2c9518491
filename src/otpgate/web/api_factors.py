"""API endpoints for the care of second factors: HOTP resynchronisation and an admin's
one-time bypass code. Same conventions as :mod:`otpgate.web.api` (scopes, error shape).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from otpgate.service import bypass, resync, users
from otpgate.web.api_auth import ApiCaller, require_scope
from otpgate.web.api_errors import ApiRoute
from otpgate.web.api_models import ROW_ID_MAX, ErrorBody, VerifyResult

__all__ = ["BypassRequest", "BypassResult", "ResyncRequest", "v1"]

VerifyCaller = Annotated[ApiCaller, Depends(require_scope("verify"))]
AdminCaller = Annotated[ApiCaller, Depends(require_scope("admin"))]
Username = Annotated[
    str, Path(min_length=1, max_length=150, description="The user's login name.")
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ResyncRequest(_Strict):
    first: str = Field(max_length=64, description="A code of the HOTP key.", examples=["755224"])
    second: str = Field(
        max_length=64, description="The code right after it (one more press).", examples=["287082"]
    )
    credential_id: int | None = Field(
        default=None,
        ge=1,
        le=ROW_ID_MAX,
        description="Only this authenticator (default: every HOTP one).",
    )


class BypassRequest(_Strict):
    note: str = Field(
        max_length=2000,
        description="The identity check that was done (required, at least 10 characters).",
        examples=["Came to the desk with their badge; photo checked."],
    )


class BypassResult(BaseModel):
    username: str
    code: str = Field(description="The one-time code: give it to the person; not kept.")
    expires_at: datetime
    kind: Literal["bypass"] = "bypass"


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    responses: dict[int | str, dict[str, Any]] = {
        s: {"model": ErrorBody, "description": "See the error codes of `/api/docs`."}
        for s in (400, 401, 403, *statuses)
    }
    # Declaring "default" also replaces FastAPI's generic 422, which this API never sends.
    responses["default"] = {"model": ErrorBody, "description": "Any other error, same shape."}
    return responses


v1 = APIRouter(prefix="/api/v1", route_class=ApiRoute, tags=["API v1"])


@v1.post(
    "/users/{username}/2fa/resync",
    summary="Resynchronise a user's HOTP key with two consecutive codes",
    description="Searches `hotp_resync_window` counters past the last accepted one for "
    "`first` followed by `second`. On success the counter moves there (neither code works "
    "again) and the result counts as a verified code. Throttled like `/verify`. "
    "Scope: `verify`.",
    response_model=VerifyResult,
    responses=_errors(404, 409, 423),
)
def resync_hotp(username: Username, body: ResyncRequest, caller: VerifyCaller) -> VerifyResult:
    ctx = caller.ctx
    user = users.find_user(ctx, username)
    factor = resync.resync_hotp(
        ctx, caller.origin, user.id, body.first, body.second, credential_id=body.credential_id
    )
    return VerifyResult.of(user.username, factor)


@v1.post(
    "/users/{username}/2fa/bypass",
    status_code=201,
    summary="Issue a one-time bypass code for a user who lost their authenticator",
    description="After an identity check (the `note`, at least 10 characters, is audited), "
    "returns a code that logs the user in once at the recovery-code step, within "
    "`bypass_code_minutes` (15 by default); a new code cancels the previous one. The "
    "user's 2FA stays on and they are sent to enrol a new authenticator. Only a hash is "
    "stored (`Cache-Control: no-store`). Scope: `admin`.",
    response_model=BypassResult,
    responses=_errors(404, 409),
)
def issue_bypass(
    username: Username, body: BypassRequest, caller: AdminCaller, response: Response
) -> BypassResult:
    ctx = caller.ctx
    user = users.find_user(ctx, username)
    # No actor id: the admin-scoped token is the operator's authority (audited as "api").
    issued = bypass.issue_bypass_code(ctx, caller.origin, None, user.id, body.note)
    response.headers["Cache-Control"] = "no-store"
    return BypassResult(username=issued.username, code=issued.code, expires_at=issued.expires_at)
