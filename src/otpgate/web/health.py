"""Health checks for load balancers and orchestrators.

- ``GET /healthz``: the process answers (liveness). Touches nothing else.
- ``GET /readyz``: this process can serve logins (readiness): the database answers, its
  schema is the one this version expects, and a secret key is loaded. ``200
  {"status":"ready"}``, else ``503 {"status":"unavailable"}``; the reason goes to the log,
  never to the caller, who may be anyone.
"""

from __future__ import annotations

import functools
import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from otpgate.service.context import Context
from otpgate.store.schema import current_revision, head_revision

__all__ = ["readiness_problem", "router"]

log = logging.getLogger("otpgate.web.health")

_NO_STORE = {"Cache-Control": "no-store"}

router = APIRouter(include_in_schema=False)


@functools.cache
def _head() -> str | None:
    # Reading the migration scripts takes milliseconds: once per process is enough.
    return head_revision()


def readiness_problem(ctx: Context) -> str | None:
    """Why this process cannot serve logins now, or None when it can."""
    try:
        revision = current_revision(ctx.session_factory.kw["bind"])
    except Exception as exc:  # whatever the driver raises, the answer is "not ready"
        return f"database unreachable ({type(exc).__name__}: {str(exc)[:200]})"
    if revision != _head():
        return f"database schema at {revision}, expected {_head()}"
    try:
        ctx.keyring.primary_id  # noqa: B018 - raises if no key is loaded
    except Exception as exc:
        return f"no secret key ({type(exc).__name__})"
    return None


@router.get("/healthz")
async def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok"}, headers=_NO_STORE)


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    ctx: Context = request.app.state.ctx
    problem = readiness_problem(ctx)
    if problem is not None:
        log.warning("not ready: %s", problem)
        return JSONResponse({"status": "unavailable"}, status_code=503, headers=_NO_STORE)
    return JSONResponse({"status": "ready"}, headers=_NO_STORE)
