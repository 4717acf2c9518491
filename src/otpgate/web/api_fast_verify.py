"""``POST /api/v1/verify`` without the framework, for the common case.

The code check is what a proxy or a portal calls on every login, so its usual form (a
remembered ``verify`` token, a JSON body with ``username`` and ``code``) is answered by
this pure ASGI layer inside the API's observing middleware: no routing, no dependency
injection, no request object, and one lean hop to a few threads of its own for the whole
check. Anything else (no or unknown token, another content type, a large or invalid body,
a password or a recovery code) is handed, body included, to the FastAPI route, which
stays the reference: it answers those cases, and its OpenAPI document describes this one.
Both produce the same answers for the same request (``tests/web/test_api_fast_verify.py``
compares their statuses, bodies, headers and audit rows).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from fastapi import FastAPI
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from otpgate.service import api_tokens
from otpgate.service.context import Context
from otpgate.web import api
from otpgate.web.api_auth import ApiCaller, api_origin
from otpgate.web.api_errors import error_response
from otpgate.web.api_models import VerifyRequest, VerifyResult
from otpgate.web.loop_threads import LoopThreads

__all__ = ["VERIFY_PATH", "FastVerify", "install"]

VERIFY_PATH = "/api/v1/verify"
# A body larger than any valid request of this form: such requests take the full route.
_MAX_BODY = 2048
_MAX_TOKEN_CHARS = 256
# Checks wait on the database a few round trips each: a few threads keep it busy while
# the loop reads the next requests; more only take turns at the GIL (measured with
# benchmarks/http_verify.py). Shared by the apps of a process; below the connections a
# server's pool keeps (otpgate.web.app.REQUEST_THREADS).
_THREADS = LoopThreads(4, "verify")
_JSON_TYPES = (b"application/json", b"application/json; charset=utf-8")
_SUCCESS_HEADERS = [(b"content-type", b"application/json")]


class FastVerify:
    """ASGI layer of the API app: the usual code check here, the rest to ``app``."""

    def __init__(self, app: ASGIApp, ctx: Context, *, route: object) -> None:
        self.app = app
        self.ctx = ctx
        self.route = route  # the FastAPI route, for the request's metrics label

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != VERIFY_PATH
            or scope["method"] != "POST"
        ):
            await self.app(scope, receive, send)
            return
        token, json_body = _read_headers(scope["headers"])
        body, ended = await _read_body(receive) if json_body else (b"", False)
        usual = _usual_request(self.ctx, token, body) if ended and len(body) <= _MAX_BODY else None
        if usual is None:
            await self.app(scope, _replay(body, ended, receive), send)
            return
        request, scopes = usual
        scope["route"] = self.route
        caller = ApiCaller(self.ctx, api_origin(HTTPConnection(scope), self.ctx), scopes)
        try:
            result = await self._check(request, caller)
        except Exception as exc:  # every failure is an API error, never a traceback
            await _send(send, error_response(exc, now=self.ctx.clock.now()))
            return
        body = result.model_dump_json().encode()
        await send({
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", b"%d" % len(body)), *_SUCCESS_HEADERS],
        })
        await send({"type": "http.response.body", "body": body})

    async def _check(self, request: VerifyRequest, caller: ApiCaller) -> VerifyResult:
        return await _THREADS.run(functools.partial(api.verify_request, request, caller))


def _read_headers(headers: list[tuple[bytes, bytes]]) -> tuple[str | None, bool]:
    """The bearer token, if any, and whether the body is declared as JSON; of a header
    sent twice, the first counts, as for the route."""
    authorization = content_type = None
    for name, value in headers:
        if name == b"authorization" and authorization is None:
            authorization = value
        elif name == b"content-type" and content_type is None:
            content_type = value
    token = None
    if authorization is not None:
        scheme, _, credentials = authorization.decode("latin-1").partition(" ")
        token = credentials.strip() if scheme.lower() == "bearer" else None
    return token, content_type is not None and content_type.lower() in _JSON_TYPES


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """The body, and whether it ended; it did not if it grew past :data:`_MAX_BODY` (a
    body too large for this form) or the client went away: the full route deals with the
    rest of the stream."""
    body = b""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return body, False
        body += message.get("body", b"")
        ended = not message.get("more_body", False)
        if ended or len(body) > _MAX_BODY:
            return body, ended


def _replay(body: bytes, ended: bool, receive: Receive) -> Receive:
    """``receive`` for the full route: what was read, then the rest of the stream."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": not ended}

    return replayed


def _usual_request(
    ctx: Context, token: str | None, body: bytes
) -> tuple[VerifyRequest, frozenset[str]] | None:
    """The request and the token's scopes, if it is the usual form with a remembered
    ``verify`` token."""
    if not token or len(token) > _MAX_TOKEN_CHARS:
        return None
    scopes = api_tokens.cached_scopes(ctx, token)
    if scopes is None or "verify" not in scopes:
        return None
    try:
        request = VerifyRequest.model_validate_json(body)
    except ValueError:  # the full route explains what is wrong
        return None
    if request.password is not None or request.code is None:
        return None
    return request, scopes


async def _send(send: Callable[[Message], Awaitable[None]], response: Response) -> None:
    await send({
        "type": "http.response.start",
        "status": response.status_code,
        "headers": response.raw_headers,
    })
    await send({"type": "http.response.body", "body": response.body})


def install(app: FastAPI, ctx: Context) -> None:
    """Put :class:`FastVerify` in front of ``app``'s routes (inside any middleware that
    wraps the stack later, such as :mod:`otpgate.web.observe`)."""
    route = next(r for r in api.v1.routes if getattr(r, "path", None) == VERIFY_PATH)
    build_stack = app.build_middleware_stack

    def stack() -> ASGIApp:
        return FastVerify(build_stack(), ctx, route=route)

    app.build_middleware_stack = stack  # type: ignore[method-assign]
