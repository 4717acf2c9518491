"""What every page handler receives: the request's :class:`Page`, at the level it needs.

Access is decided here once for all routes, from the session level:
``anonymous`` pages (log in, first-run setup), the ``password`` level's pages (second
factor only), ``enrol`` (enrolment only), ``full`` and admin pages. A session at another
level is redirected to the one page its level allows, so a half-logged-in session
reaches nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from otpgate.service import users
from otpgate.service import web_sessions as ws
from otpgate.service.context import Context, Origin
from otpgate.service.errors import NotFound, NotPermitted
from otpgate.service.views import UserView
from otpgate.web import i18n
from otpgate.web.branding import brand_of
from otpgate.web.errors import CsrfRejected, Problem, Redirect, describe
from otpgate.web.render import render_html
from otpgate.web.sessions import SessionHandle, session_handle

__all__ = [
    "LEVEL_HOME",
    "Page",
    "admin_page",
    "anonymous_page",
    "any_page",
    "csrf_guard",
    "enrol_page",
    "full_page",
    "half_page",
    "locale_for",
    "safe_next",
]

LEVEL_HOME: dict[ws.Level, str] = {
    "anonymous": "/login",
    "password": "/login/2fa",
    "enrol": "/security/enable",
    "full": "/",
}
_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def safe_next(value: object, default: str = "/") -> str:
    """A local path to go to after a form, never another site (no open redirect)."""
    if (
        not isinstance(value, str)
        or not value.startswith("/")
        or value.startswith(("//", "/\\"))
        or len(value) > 500
        or any(ord(c) < 0x21 or c == "\\" for c in value)
    ):
        return default
    return value


def locale_for(request: Request, user: UserView | None, view: ws.WebSessionView | None) -> str:
    """The user's setting, else the language picked in this session, else Accept-Language."""
    chosen = view.data.get("lang") if view is not None else None
    return i18n.negotiate(
        user.locale if user is not None else None,
        chosen if isinstance(chosen, str) else None,
        accept_language=request.headers.get("accept-language", ""),
    )


@dataclass
class Page:
    """One page request: the service context, the session, the user and the locale."""

    request: Request
    ctx: Context
    session: SessionHandle
    view: ws.WebSessionView
    user: UserView | None

    @property
    def origin(self) -> Origin:
        return self.session.origin

    @property
    def locale(self) -> str:
        return locale_for(self.request, self.user, self.session.current())

    @property
    def user_id(self) -> int:
        if self.user is None:
            raise NotPermitted()
        return self.user.id

    def now(self) -> datetime:
        return self.ctx.now_dt()

    def translate(self, message: str) -> str:
        """``message`` in the page's language."""
        with i18n.use_locale(self.locale):
            return i18n.gettext(message)

    def problem(self, exc: BaseException, *, single_use: bool = False) -> Problem:
        with i18n.use_locale(self.locale):
            return describe(exc, self.now(), single_use=single_use)

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        view = self.session.current()
        html = render_html(
            template,
            self.locale,
            {
                "brand": brand_of(self.ctx.settings),
                "user": self.user,
                "level": view.level if view is not None else "anonymous",
                "csrf_token": view.csrf_token if view is not None else "",
                "path": self.request.url.path,
                **values,
            },
        )
        return HTMLResponse(html, status_code=status)

    def render_problem(
        self, template: str, exc: BaseException, *, single_use: bool = False, **values: Any
    ) -> HTMLResponse:
        """The same form again, with the error's one-line message and status."""
        problem = self.problem(exc, single_use=single_use)
        response = self.render(template, problem.status, error=problem.message, **values)
        if problem.retry_after is not None:
            response.headers["Retry-After"] = str(problem.retry_after)
        return response

    @staticmethod
    def redirect(url: str) -> RedirectResponse:
        return RedirectResponse(url, status_code=303)


async def csrf_guard(request: Request) -> None:
    """Refuse any state-changing request without the session's CSRF token."""
    if request.method not in _UNSAFE_METHODS:
        return
    form = await request.form()
    handle = session_handle(request)
    view = await run_in_threadpool(handle.current)
    if view is None or not ws.check_csrf(view, form.get("csrf_token")):
        raise CsrfRejected()


def any_page(request: Request) -> Page:
    """The page with its (possibly new, anonymous) session and, if any, its user."""
    handle = session_handle(request)
    view = handle.ensure()
    user: UserView | None = None
    if view.user_id is not None and view.level != "anonymous":
        try:
            user = users.get_user(handle.ctx, view.user_id)
        except NotFound:
            user = None
        if user is None or not user.is_active:
            handle.end()
            raise Redirect("/login")
    return Page(request, handle.ctx, handle, view, user)


def _at(page: Page, *allowed: ws.Level) -> Page:
    if page.view.level not in allowed:
        raise Redirect(LEVEL_HOME[page.view.level])
    return page


def anonymous_page(page: Page = Depends(any_page)) -> Page:  # noqa: B008 - FastAPI idiom
    return _at(page, "anonymous")


def half_page(page: Page = Depends(any_page)) -> Page:  # noqa: B008
    return _at(page, "password")


def enrol_page(page: Page = Depends(any_page)) -> Page:  # noqa: B008
    return _at(page, "enrol", "full")


def full_page(page: Page = Depends(any_page)) -> Page:  # noqa: B008
    return _at(page, "full")


def admin_page(page: Page = Depends(full_page)) -> Page:  # noqa: B008
    if page.user is None or not page.user.is_admin:
        raise NotPermitted()
    return page
