"""Errors of the JSON API: every failure becomes ``{"error": code, "message": text}``.

Routes of the API use :class:`ApiRoute`, which turns service errors, validation errors and
bugs into JSON responses inside the route itself, so the app's HTML error pages never see
them. :func:`install_api_error_handlers` covers what happens before a route is chosen
(unknown path or method under ``/api/``) and leaves every other path to the app's handlers.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from otpgate.service import errors as se
from otpgate.store import errors as store_errors
from otpgate.web.errors import UNAVAILABLE_RETRY_AFTER

__all__ = [
    "API_PATH_PREFIX",
    "ApiError",
    "ApiRoute",
    "error_response",
    "install_api_error_handlers",
]

API_PATH_PREFIX = "/api/"

_log = logging.getLogger("otpgate.web.api")

Handler = Callable[[Request, Exception], Awaitable[Response]]


class ApiError(Exception):
    """An error the API itself raises (bad token, missing scope), already classified."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.headers = dict(headers or {})


def _json(
    status: int,
    error: str,
    message: str,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"error": error, "message": message}
    body.update({k: v for k, v in extra.items() if v is not None})
    all_headers = {"Cache-Control": "no-store", **(headers or {})}
    return JSONResponse(body, status_code=status, headers=all_headers)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _validation_message(exc: RequestValidationError) -> tuple[str, str]:
    errors = list(exc.errors())
    if not errors:
        return "invalid_request", "The request is not valid."
    first = errors[0]
    if first.get("type") == "json_invalid":
        return "malformed_request", "The request body is not valid JSON."
    where = ".".join(str(part) for part in first.get("loc", ()) if part not in ("body",))
    message = _one_line(str(first.get("msg", "invalid value")))
    if message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    text = f"{where}: {message}" if where else message
    if len(errors) > 1:
        text += f" (and {len(errors) - 1} more)"
    return "invalid_request", text


def _retry_after(until: datetime, now: float) -> str:
    return str(max(1, math.ceil(until.timestamp() - now)))


# Checked in order: subclasses before their parents.
_BY_CLASS: tuple[tuple[type[se.ServiceError], int, str], ...] = (
    (se.InvalidInput, 400, "invalid_input"),
    (se.AppIgnoredSettings, 400, "app_ignored_settings"),
    (se.LastAuthenticator, 409, "last_authenticator"),
    (se.AuthenticationFailed, 401, "authentication_failed"),
    (se.AccountDisabled, 403, "account_disabled"),
    (se.NotPermitted, 403, "not_permitted"),
    (se.StepUpRequired, 403, "step_up_required"),
    (se.NotFound, 404, "not_found"),
    (se.AlreadyEnrolled, 409, "already_enrolled"),
    (se.Conflict, 409, "conflict"),
    (se.NotEnrolled, 409, "not_enrolled"),
    (se.EnrolmentExpired, 409, "enrolment_expired"),
    (se.KeyUnavailable, 503, "key_unavailable"),
)


def _service_error(exc: se.ServiceError, now: float) -> JSONResponse:
    msg = _one_line(str(exc))
    if isinstance(exc, se.CodeRejected):
        status = 400 if exc.reason is se.RejectReason.MALFORMED else 401
        return _json(status, "code_rejected", msg, reason=str(exc.reason))
    if isinstance(exc, se.Locked):
        return _json(
            423,
            "locked",
            msg,
            headers={"Retry-After": _retry_after(exc.until, now)},
            until=exc.until.isoformat(),
        )
    if isinstance(exc, se.KeyUnavailable):
        # The operator's configuration, not the caller, is at fault: say so in the log.
        _log.error("secret key unavailable: %s", msg)
    for cls, status, error in _BY_CLASS:
        if isinstance(exc, cls):
            return _json(status, error, msg)
    # A service error without its own mapping is still a refusal, not a crash.
    return _json(403, "refused", msg)


def error_response(exc: Exception, *, now: float | None = None) -> JSONResponse:
    """The JSON response for any exception raised while serving an API request."""
    now = time.time() if now is None else now
    if isinstance(exc, ApiError):
        return _json(exc.status, exc.error, _one_line(exc.message), headers=exc.headers)
    if isinstance(exc, RequestValidationError):
        error, message = _validation_message(exc)
        return _json(400, error, message)
    if isinstance(exc, se.ServiceError):
        return _service_error(exc, now)
    if isinstance(exc, store_errors.StoreError):
        return _store_error(exc)
    if isinstance(exc, StarletteHTTPException):
        return _json(exc.status_code, _http_error_code(exc.status_code), _one_line(exc.detail),
                     headers=exc.headers)
    return _internal_error(exc)


def _internal_error(exc: Exception) -> JSONResponse:
    _log.exception("unexpected error in the API", exc_info=exc)
    return _json(500, "internal_error", "Internal error; the operator can find it in the logs.")


def _store_error(exc: store_errors.StoreError) -> JSONResponse:
    if isinstance(exc, store_errors.DatabaseUnavailable):
        _log.warning("database unavailable: %s", exc)
        return _json(503, "unavailable", "The service is unavailable; try again later.",
                     headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER)})
    # A value the database refused (an id past its column's range, say) is the caller's
    # fault, not a crash; the store's message names the column, never the value.
    for cls, status, error, message in (
        (store_errors.InvalidValue, 400, "invalid_input", "A value is out of range."),
        (store_errors.Conflict, 409, "conflict", "The request conflicts with stored data."),
        (store_errors.NotFound, 404, "not_found", "Not found."),
    ):
        if isinstance(exc, cls):
            return _json(status, error, message)
    return _internal_error(exc)


def _http_error_code(status: int) -> str:
    return {
        404: "not_found",
        405: "method_not_allowed",
        406: "not_acceptable",
        413: "too_large",
        415: "unsupported_media_type",
    }.get(status, "http_error")


def _clock_now(request: Request) -> float:
    ctx = getattr(request.app.state, "ctx", None)
    clock = getattr(ctx, "clock", None)
    return clock.now() if clock is not None else time.time()


class ApiRoute(APIRoute):
    """A route whose every failure is answered in the API's JSON error shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def json_errors(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:  # the point: no traceback reaches a client
                return error_response(exc, now=_clock_now(request))

        return json_errors


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(API_PATH_PREFIX)


def install_api_error_handlers(app: FastAPI) -> None:
    """Answer errors raised outside API routes (404/405 under ``/api/``) in JSON.

    Other paths keep the handlers the app had when this was called (or FastAPI's defaults),
    so call it after registering the app's own handlers.
    """
    previous_http: Handler = app.exception_handlers.get(  # type: ignore[assignment]
        StarletteHTTPException, http_exception_handler
    )
    previous_validation: Handler = app.exception_handlers.get(  # type: ignore[assignment]
        RequestValidationError, request_validation_exception_handler
    )

    async def on_http(request: Request, exc: Exception) -> Response:
        if _is_api(request):
            return error_response(exc, now=_clock_now(request))
        return await previous_http(request, exc)

    async def on_validation(request: Request, exc: Exception) -> Response:
        if _is_api(request):
            return error_response(exc, now=_clock_now(request))
        return await previous_validation(request, exc)

    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
