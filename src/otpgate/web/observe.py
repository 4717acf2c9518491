"""The outermost middleware: request id, log context, access line, request metrics.

One pure ASGI layer does all four, because it wraps every request, the API's busiest
ones included: it reads the ``X-Request-ID`` header (or makes an id), opens the log
context (:mod:`otpgate.logs`), echoes the id in the response, and when the request ends
writes one ``request`` line to ``otpgate.access`` (if that logger is on) and counts the
request by route template and status (if metrics are on). Without metrics and without an
access log it costs a header scan, a random id and a context variable.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from fastapi import FastAPI
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from otpgate import logs
from otpgate.service.context import Context
from otpgate.web.request_id import HEADER, request_id_from
from otpgate.web.sessions import client_info

if TYPE_CHECKING:
    from otpgate.web.metrics import Metrics

__all__ = ["ObserveMiddleware", "install"]

access_log = logging.getLogger("otpgate.access")

UNMATCHED = "<unmatched>"


class ObserveMiddleware:
    def __init__(
        self, app: ASGIApp, *, trust_proxy_headers: bool, metrics: Metrics | None = None
    ) -> None:
        self.app = app
        self.trust_proxy_headers = trust_proxy_headers
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_from(scope["headers"])
        raw_id = request_id.encode("ascii")
        info = logs.RequestInfo(request_id, lambda: self._client(scope))
        token = logs.begin_request(info)
        status = 500  # unless a response starts: an exception escaped every handler

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (HEADER, raw_id)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = getattr(scope.get("route"), "path", None) or UNMATCHED
            seconds = time.perf_counter() - started
            if self.metrics is not None:
                self.metrics.observe_request(scope["method"], route, status, seconds)
            if access_log.isEnabledFor(logging.INFO):
                self._log(scope, route, status, seconds)
            logs.end_request(token)

    def _client(self, scope: Scope) -> str:
        return client_info(HTTPConnection(scope), self.trust_proxy_headers).addr

    @staticmethod
    def _log(scope: Scope, route: str, status: int, seconds: float) -> None:
        username = scope.get("path_params", {}).get("username")
        if isinstance(username, str):
            logs.note_user(username[:150])
        # The route's template, not the path: no query string (one-time tokens) and
        # nothing the client typed beyond what the template names.
        access_log.info(
            "request",
            extra={
                "fields": {
                    "method": scope["method"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 3),
                }
            },
        )


def install(portal: FastAPI, api: FastAPI | None, ctx: Context) -> None:
    """Add health checks and metrics (when ``OTPGATE_METRICS_TOKEN`` is set) to the
    portal, and this middleware around everything else in the portal and in the API."""
    from otpgate.web import health

    portal.include_router(health.router)
    metrics = None
    if ctx.settings.metrics_token:
        # Imported only when on: prometheus_client picks its storage (per process, or
        # files shared by the workers) when first imported.
        from otpgate.web import metrics as exporter

        metrics = exporter.install(ctx)
        portal.include_router(exporter.router)
    for app in (portal, api):
        if app is not None:
            _observe(app, ctx.settings.trust_proxy_headers, metrics)


def _observe(app: FastAPI, trust_proxy_headers: bool, metrics: Metrics | None) -> None:
    build_stack = app.build_middleware_stack

    def observed_stack() -> ASGIApp:
        # Outside Starlette's ServerErrorMiddleware too (which add_middleware cannot
        # reach): a crash's 500 page still carries the request id, and its log line too.
        return ObserveMiddleware(
            build_stack(), trust_proxy_headers=trust_proxy_headers, metrics=metrics
        )

    app.build_middleware_stack = observed_stack  # type: ignore[method-assign]
