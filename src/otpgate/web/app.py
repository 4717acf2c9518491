"""The ASGI application: two sub-applications behind one path split.

* The **portal** (:func:`portal_app`): pages, static files, forward auth, error pages.
  Middleware (outermost first): security headers → sessions → router. Errors of every
  layer become a page with a status and one translated line (never a traceback).
* The **JSON API** (:func:`api_app`): everything under ``/api/`` and ``/openapi.json``.
  It has no session and no page middleware: API clients send a bearer token, never a
  cookie, and the code check is the busiest request there is. Errors are JSON.

:class:`OtpgateApp` sends each request to one of them by its path; middleware meant for
one kind of request is added to that sub-application (``app.portal`` / ``app.api``),
middleware for both wraps the whole.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.telemetry import TelemetryConfig
from sqlalchemy.pool import QueuePool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope, Send

from otpgate import __version__
from otpgate.config import Settings
from otpgate.service.context import Context, Origin, build_context
from otpgate.service.errors import ServiceError
from otpgate.store.errors import StoreError
from otpgate.web import branding, forward_auth, i18n, observe
from otpgate.web.deps import locale_for
from otpgate.web.errors import Problem, Redirect, WebError, describe
from otpgate.web.headers import SecurityHeadersMiddleware
from otpgate.web.pages import (
    account,
    admin,
    auth,
    factors,
    passkey_login,
    passkeys,
    security,
    security_settings,
)
from otpgate.web.render import render_html
from otpgate.web.sessions import SessionMiddleware, session_handle

__all__ = [
    "API_PATHS",
    "PAGE_MODULES",
    "REQUEST_THREADS",
    "OtpgateApp",
    "api_app",
    "app_from_env",
    "create_app",
    "portal_app",
]

log = logging.getLogger("otpgate.web")
STATIC_DIR = Path(__file__).parent / "static"
#: Threads serving sync routes in a server process, and database connections it keeps open.
REQUEST_THREADS = 8
# otpgate's own metrics and logs (otpgate.web.observe) describe every request; FastAPI's
# OpenTelemetry hooks would otherwise look for a configured provider on each one.
NO_OPENTELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
# Each has a ``router`` of HTML pages (kept out of the OpenAPI document).
PAGE_MODULES = (
    auth, account, security, security_settings, admin, factors, passkeys, passkey_login,
)


#: Path prefixes answered by the API sub-application.
API_PATHS = ("/api/", "/openapi.json")


class OtpgateApp:
    """The ASGI app: requests under :data:`API_PATHS` go to ``api``, the rest (and the
    lifespan: mail sender, thread limit) to ``portal``."""

    def __init__(self, portal: FastAPI, api: FastAPI | None) -> None:
        self.portal = portal
        self.api = api
        self.state = portal.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        api = self.api
        if api is not None and scope["type"] == "http" and scope["path"].startswith(API_PATHS):
            await api(scope, receive, send)
        else:
            await self.portal(scope, receive, send)


def create_app(settings: Settings, *, ctx: Context | None = None) -> OtpgateApp:
    """The portal and the API for ``settings``; ``ctx`` lets tests inject a clock or a
    database."""
    if ctx is None:
        ctx = build_context(settings, migrate=True)
    portal, api = portal_app(ctx), api_app(ctx)
    # Last: health checks, metrics, and the outermost middleware of both halves.
    observe.install(portal, api, ctx)
    return OtpgateApp(portal, api)


def portal_app(ctx: Context) -> FastAPI:
    """The pages, static files and forward-auth endpoint, with sessions and page headers."""
    app = FastAPI(
        title="otpgate portal",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=_mail_sender(ctx),
        telemetry=NO_OPENTELEMETRY,
    )
    app.state.ctx = ctx
    branding.install(app, ctx.settings)
    for module in PAGE_MODULES:
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    _install_error_pages(app)
    forward_auth.install(app)
    app.add_middleware(SessionMiddleware, ctx=ctx)
    app.add_middleware(SecurityHeadersMiddleware)
    return app


def api_app(ctx: Context) -> FastAPI | None:
    """The JSON API and its OpenAPI document; None if this installation has no API."""
    try:
        api = importlib.import_module("otpgate.web.api")
    except ModuleNotFoundError as exc:
        if exc.name != "otpgate.web.api":
            raise
        return None
    app = FastAPI(
        title="otpgate",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        description="Two-factor authentication (TOTP/HOTP) service: JSON API.",
        telemetry=NO_OPENTELEMETRY,
    )
    app.state.ctx = ctx
    app.include_router(api.router)
    importlib.import_module("otpgate.web.api_errors").install_api_error_handlers(app)
    importlib.import_module("otpgate.web.api_fast_verify").install(app, ctx)
    return app


def _mail_sender(ctx: Context) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """While the app runs, a thread sends the queued security e-mails (if SMTP is set)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from otpgate.service.mailer import MailWorker

        _limit_request_threads(ctx)
        worker = None
        if ctx.settings.smtp_configured:
            worker = MailWorker(ctx, Origin(source="web", user_agent="otpgate mail sender"))
            worker.start()
        try:
            yield
        finally:
            if worker is not None:
                worker.stop()

    return lifespan


def _limit_request_threads(ctx: Context) -> None:
    # Sync routes run in AnyIO's thread pool (40 threads by default). More threads than
    # the database pool keeps open make the pool open and close an extra connection per
    # request under load (a PostgreSQL backend forked each time), and on a small machine
    # more threads only queue on the GIL: so as many threads as kept connections.
    pool = ctx.session_factory.kw["bind"].pool
    if isinstance(pool, QueuePool):
        to_thread.current_default_thread_limiter().total_tokens = pool.size()


def app_from_env() -> OtpgateApp:
    """Factory for ``uvicorn --factory``: each worker builds its own app from the env."""
    settings = Settings.from_env()
    # ``otpgate serve`` migrated (or checked) the schema before starting the workers.
    ctx = build_context(settings, migrate=not settings.database_url, pool_size=REQUEST_THREADS)
    return create_app(settings, ctx=ctx)


def _error_page(request: Request, problem: Problem) -> HTMLResponse:
    # Only what was already read: an error page must not fail on the database again.
    handle = session_handle(request)
    view = handle.peek()
    locale = locale_for(request, None, view)
    html = render_html(
        "error.html",
        locale,
        {
            "brand": branding.brand_of(handle.ctx.settings),
            "user": None,
            "level": view.level if view is not None else "anonymous",
            "csrf_token": view.csrf_token if view is not None else "",
            "path": request.url.path,
            "status": problem.status,
            "message": problem.message,
        },
    )
    response = HTMLResponse(html, status_code=problem.status)
    if problem.retry_after is not None:
        response.headers["Retry-After"] = str(problem.retry_after)
    return response


def _describe(request: Request, exc: BaseException) -> Problem:
    handle = session_handle(request)
    view = handle.peek()
    with i18n.use_locale(locale_for(request, None, view)):
        return describe(exc, handle.ctx.now_dt())


def _install_error_pages(app: FastAPI) -> None:
    async def on_redirect(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Redirect)
        return RedirectResponse(exc.url, status_code=303)

    async def on_known(request: Request, exc: Exception) -> Response:
        return _error_page(request, _describe(request, exc))

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        with i18n.use_locale(locale_for(request, None, None)):
            message = {
                404: i18n.gettext("This page does not exist."),
                405: i18n.gettext("This page cannot be used this way."),
            }.get(exc.status_code, i18n.gettext("The request could not be handled."))
        return _error_page(request, Problem(exc.status_code, message))

    async def on_invalid(request: Request, exc: Exception) -> Response:
        with i18n.use_locale(locale_for(request, None, None)):
            message = i18n.gettext("The form contains an invalid value.")
        return _error_page(request, Problem(400, message))

    async def on_crash(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        with i18n.use_locale(locale_for(request, None, None)):
            message = i18n.gettext("Something went wrong. Try again later.")
        return _error_page(request, Problem(500, message))

    app.add_exception_handler(Redirect, on_redirect)
    app.add_exception_handler(WebError, on_known)
    app.add_exception_handler(ServiceError, on_known)
    app.add_exception_handler(StoreError, on_known)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_invalid)
    app.add_exception_handler(Exception, on_crash)
