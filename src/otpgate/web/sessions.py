"""The web session of one request: read lazily from the cookie, written back as cookies.

:class:`SessionMiddleware` puts a :class:`SessionHandle` on every HTTP request; pages
load, rotate or end the session through it, and the middleware adds the resulting
``Set-Cookie`` headers when the response starts. Nothing touches the database for a
request that never looks at its session (static files, the JSON API).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from otpgate.service import web_sessions as ws
from otpgate.service.context import Context, Origin

__all__ = [
    "DEVICE_COOKIE",
    "SESSION_COOKIE",
    "ClientInfo",
    "SessionHandle",
    "SessionMiddleware",
    "client_info",
    "session_handle",
]

SESSION_COOKIE = "otpgate_session"
DEVICE_COOKIE = "otpgate_device"
_STATE_KEY = "otpgate_session"


@dataclass(frozen=True)
class ClientInfo:
    addr: str
    user_agent: str
    https: bool


def client_info(conn: HTTPConnection, trust_proxy_headers: bool) -> ClientInfo:
    """Who is asking, and over what; proxy headers count only when the operator says so."""
    addr = conn.client.host if conn.client else ""
    https = conn.scope.get("scheme") == "https"  # as conn.url.scheme, without parsing a URL
    if trust_proxy_headers:
        forwarded_for = conn.headers.get("x-forwarded-for", "")
        # The right-most entry is the one our own proxy appended; the rest is client-made.
        hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
        if hops:
            addr = hops[-1]
        proto = conn.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
        if proto:
            https = proto == "https"
    return ClientInfo(addr[:64], conn.headers.get("user-agent", "")[:400], https)


@dataclass
class SessionHandle:
    """The session of one request, and the cookies to send back."""

    ctx: Context
    origin: Origin
    secure: bool
    token: str | None
    _view: ws.WebSessionView | None = None
    _loaded: bool = False
    cookies: list[str] = field(default_factory=list)

    # -- reading -------------------------------------------------------------------------
    def current(self) -> ws.WebSessionView | None:
        """The live session of the cookie, or None (read once per request)."""
        if not self._loaded:
            self._loaded = True
            self._view = ws.load_session(self.ctx, self.token) if self.token else None
        return self._view

    def peek(self) -> ws.WebSessionView | None:
        """The session if it was already read in this request; never reads it."""
        return self._view if self._loaded else None

    def ensure(self) -> ws.WebSessionView:
        """The live session, or a new anonymous one (a form needs its CSRF token)."""
        view = self.current()
        if view is None:
            token, view = ws.start_session(self.ctx, self.origin)
            self._set(token, view)
        return view

    @property
    def level(self) -> ws.Level:
        view = self.current()
        return view.level if view is not None else "anonymous"

    # -- changing ------------------------------------------------------------------------
    def rotate(
        self, level: ws.Level, user_id: int | None, *, step_up: bool = False
    ) -> ws.WebSessionView:
        """Move to ``level`` under a new session id (old id dead at once)."""
        token, view = ws.rotate_session(
            self.ctx, self.origin, self.token, level=level, user_id=user_id, step_up=step_up
        )
        self._set(token, view)
        return view

    def update(self, **changes: Any) -> None:
        view = self.ensure()
        self._view = ws.update_session_data(self.ctx, view.id_hash, **changes)

    def record_step_up(self, at: datetime, *, admin: bool = False) -> None:
        view = self.current()
        if view is not None:
            ws.record_step_up(self.ctx, view.id_hash, at, admin=admin)
            self._loaded = False

    def end(self) -> None:
        if self.token:
            ws.end_session(self.ctx, self.token)
        self.token, self._view, self._loaded = None, None, True
        self.cookies.append(self._cookie(SESSION_COOKIE, "", max_age=0))

    def set_device_cookie(self, token: str, days: int) -> None:
        self.cookies.append(self._cookie(DEVICE_COOKIE, token, max_age=days * 86400))

    def clear_device_cookie(self) -> None:
        self.cookies.append(self._cookie(DEVICE_COOKIE, "", max_age=0))

    # -- cookies -------------------------------------------------------------------------
    def _set(self, token: str, view: ws.WebSessionView) -> None:
        self.token, self._view, self._loaded = token, view, True
        self.cookies.append(self._cookie(SESSION_COOKIE, token))

    def _cookie(self, name: str, value: str, *, max_age: int | None = None) -> str:
        # Tokens are URL-safe base64: no quoting needed.
        parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Lax"]
        if max_age is not None:
            parts.append(f"Max-Age={max_age}")
        if self.ctx.settings.cookie_domain:
            # One login for every subdomain (forward auth in front of other sites).
            parts.append(f"Domain={self.ctx.settings.cookie_domain}")
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts)


def session_handle(conn: HTTPConnection) -> SessionHandle:
    handle: SessionHandle = conn.scope["state"][_STATE_KEY]
    return handle


class SessionMiddleware:
    """Attach a lazy :class:`SessionHandle` to each request and send its cookies."""

    def __init__(self, app: ASGIApp, ctx: Context) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        info = client_info(conn, self.ctx.settings.trust_proxy_headers)
        handle = SessionHandle(
            ctx=self.ctx,
            origin=Origin("web", info.addr, info.user_agent),
            secure=self.ctx.settings.cookie_secure or info.https,
            token=conn.cookies.get(SESSION_COOKIE) or None,
        )
        scope.setdefault("state", {})[_STATE_KEY] = handle

        async def send_with_cookies(message: Message) -> None:
            if message["type"] == "http.response.start" and handle.cookies:
                headers = MutableHeaders(scope=message)
                for cookie in handle.cookies:
                    headers.append("Set-Cookie", cookie)
            await send(message)

        await self.app(scope, receive, send_with_cookies)
