"""Forward auth: a reverse proxy asks otpgate whether to let a request through.

``/auth/verify?site=NAME`` (any method, no body needed) reads which site the proxy serves
from ``site``, fixed by the operator in the auth URL of each proxy block (a client can
neither set nor change that URL, and a block that forgets it is refused), the original
request from ``X-Original-URL`` (nginx) or
``X-Forwarded-Proto``/``-Host``/``-Uri`` (Traefik, Caddy), and the otpgate session cookie
the browser sent with it. The host of the original URL must be a domain of the named
site: a client that makes the proxy route to one site while the URL names another
(``GET http://erp…/`` with ``Host: wiki…``) is refused, whatever the proxy built the URL
from. No site named, a header sent twice or a list in ``X-Forwarded-Host``: refused. Then
it answers:

- **200** with ``X-Otpgate-User``, ``X-Otpgate-Email`` and ``X-Otpgate-Groups``
  (comma-separated) when a full session of an active user allowed on that site exists;
  the proxy copies them to the upstream request, replacing whatever the client sent.
- **401** when a login is needed, with ``Location`` = the login page and ``rd=`` the
  original URL (nginx turns it into a redirect with ``error_page 401``). With
  ``?redirect=1`` (Traefik, Caddy: they pass the answer to the browser) it is a **302**.
- **403** when the user is logged in but not allowed on this site (or the site wants 2FA
  the account lacks), or when the request is not one of a protected site.
  ``X-Otpgate-Reason`` says which: ``not-allowed``, ``2fa-required``, ``unknown-site``
  (bad headers or path, or a path no site covers), ``site-not-named``, ``wrong-site``
  (the URL's host is not the named site's).
  For ``2fa-required`` only, ``Location`` is the portal's security page (with ``rd=``),
  where the user turns 2FA on and is then sent back; with ``?redirect=1`` that answer
  is a **302** there. nginx's ``auth_request`` keeps its own 403 body, but
  ``auth_request_set $otpgate_location $upstream_http_location`` plus
  ``error_page 401 403 = @otpgate`` with ``if ($otpgate_location = "") { return 403; }
  return 302 $otpgate_location;`` in ``@otpgate`` sends the browser on, while a 403
  without ``Location`` (``not-allowed``) stays a 403.

Every answer is ``Cache-Control: no-store``. The endpoint never changes a session except
to note its use (inactivity timeout) or to end one that outlived the site's limits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import quote, urljoin, urlsplit

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import PlainTextResponse, Response

from otpgate.config import Settings
from otpgate.service.errors import NotEnrolled
from otpgate.service.site_access import SessionIdentity, session_identity
from otpgate.sites import AccessRule, SitesConfig, SitesError, load_sites, normalise_host
from otpgate.web.deps import Page
from otpgate.web.return_url import validate_return_url
from otpgate.web.sessions import SESSION_COOKIE, session_handle

__all__ = [
    "IDENTITY_HEADERS",
    "VERIFY_PATH",
    "install",
    "remember_return_url",
    "return_url_for",
    "router",
    "sites_of",
    "take_return_url",
]

log = logging.getLogger("otpgate.forward_auth")
router = APIRouter(include_in_schema=False)
VERIFY_PATH = "/auth/verify"
IDENTITY_HEADERS = ("X-Otpgate-User", "X-Otpgate-Email", "X-Otpgate-Groups")
_RETURN_KEY = "return_to"
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def install(app: FastAPI) -> None:
    """Load the sites file of the app's settings (errors stop the start) and add the
    endpoint."""
    settings: Settings = app.state.ctx.settings
    sites = load_sites(settings.sites_file) if settings.sites_file else SitesConfig()
    _check_cookie_domain(sites, settings.cookie_domain)
    app.state.sites = sites
    app.include_router(router)


def _check_cookie_domain(sites: SitesConfig, cookie_domain: str) -> None:
    # A site outside the cookie's domain never receives the cookie: refuse at start
    # rather than send its users round in circles.
    if not cookie_domain:
        return
    for site in sites.sites:
        for domain in site.domains:
            bare = domain.removeprefix("*.")
            if not (bare == cookie_domain or bare.endswith("." + cookie_domain)):
                raise SitesError(
                    f"site {site.name!r}: {domain} is outside OTPGATE_COOKIE_DOMAIN "
                    f"{cookie_domain}, so the login cookie would never reach it"
                )


def sites_of(request: Request) -> SitesConfig:
    sites = getattr(request.app.state, "sites", None)
    return sites if isinstance(sites, SitesConfig) else SitesConfig()


def return_url_for(request: Request, value: object) -> str | None:
    """``value`` if it is a safe place to return to after login, else None."""
    settings: Settings = session_handle(request).ctx.settings
    return validate_return_url(value, sites_of(request), settings.cookie_domain)


# -- the login flow's side: remember where to go back to --------------------------------
def remember_return_url(page: Page) -> None:
    """Keep the page's valid ``rd``/``next`` in the session; a bad one is dropped (and
    forgets an earlier one). A page without either leaves the session as it was."""
    params = page.request.query_params
    wanted = params.get("rd") or params.get("next")
    if wanted:
        page.session.update(**{_RETURN_KEY: return_url_for(page.request, wanted)})


def take_return_url(page: Page, default: str = "/") -> str:
    """Where to go after a full login: the remembered URL (checked again), once."""
    view = page.session.current()
    if view is None or _RETURN_KEY not in view.data:
        return default
    target = return_url_for(page.request, view.data.get(_RETURN_KEY))
    page.session.update(**{_RETURN_KEY: None})
    return target or default


# -- the endpoint -----------------------------------------------------------------------
@dataclass(frozen=True)
class _Target:
    url: str
    host: str
    uri: str


def _one(request: Request, name: str) -> str | None:
    """The header's only value ("" when absent), or None when it came more than once."""
    values = request.headers.getlist(name)
    if len(values) > 1:
        return None
    return values[0].strip() if values else ""


def _from_original_url(original: str) -> tuple[str, str, str] | None:
    try:
        parts = urlsplit(original)
    except ValueError:
        return None
    prefix = f"{parts.scheme}://{parts.netloc}"
    if not original.startswith(prefix):
        return None
    return parts.scheme.lower(), parts.netloc, original[len(prefix):] or "/"


def _from_forwarded(request: Request) -> tuple[str, str, str] | None:
    host, proto, uri = (_one(request, f"x-forwarded-{n}") for n in ("host", "proto", "uri"))
    if host is None or proto is None or uri is None:
        return None
    return proto.split(",")[0].strip().lower() or "https", host, uri or "/"


def _original(request: Request) -> _Target | None:
    original = _one(request, "x-original-url")
    if original is None:
        return None
    parts = _from_original_url(original) if original else _from_forwarded(request)
    if parts is None:
        return None
    scheme, authority, uri = parts
    # A list of hosts may hold a client's value beside the proxy's: which one is real?
    if scheme not in ("http", "https") or "@" in authority or "," in authority:
        return None
    host = normalise_host(authority)
    if host is None or not uri.startswith("/"):
        return None
    return _Target(f"{scheme}://{authority}{uri}", host, uri)


def _access(request: Request) -> tuple[_Target, AccessRule] | Response:
    """The original request and the rule it must satisfy, or the refusal."""
    sites = sites_of(request)
    names = request.query_params.getlist("site")
    if len(names) != 1 or not names[0]:
        return _deny(403, "site-not-named")
    site = sites.site_named(names[0])
    target = _original(request)
    if site is None or target is None:
        return _deny(403, "unknown-site")
    if not site.covers(target.host):
        log.warning("forward auth: site %s was asked about host %s", site.name, target.host)
        return _deny(403, "wrong-site")
    rule = sites.rule_for(target.host, target.uri, named=site)
    return _deny(403, "unknown-site") if rule is None else (target, rule)


def _login_url(request: Request, target: _Target) -> str:
    settings: Settings = session_handle(request).ctx.settings
    base = sites_of(request).login_url or settings.base_url.rstrip("/") + "/login"
    rd = return_url_for(request, target.url)
    if rd is None:
        return base
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}rd={quote(rd, safe='')}"


def _security_url(request: Request, target: _Target) -> str:
    # The portal's security page, beside its login page (same host and path prefix).
    settings: Settings = session_handle(request).ctx.settings
    login = sites_of(request).login_url or settings.base_url.rstrip("/") + "/login"
    base = urljoin(login, "security")
    rd = return_url_for(request, target.url)
    return base if rd is None else f"{base}?rd={quote(rd, safe='')}"


def _header_value(text: str) -> str:
    # Header values are ASCII here; anything else (e.g. an accented e-mail) is escaped.
    return quote(text, safe="!#$%&'()*+,-./:;<=>?@[]^_`{|}~ ")


def _deny(status: int, reason: str, location: str | None = None) -> Response:
    response = PlainTextResponse(reason + "\n", status_code=status)
    response.headers["X-Otpgate-Reason"] = reason
    if location is not None:
        response.headers["Location"] = location
    return response


def _send_to(redirect: str, status: int, reason: str, location: str) -> Response:
    # nginx needs the 401/403 (auth_request accepts nothing else) and redirects itself;
    # Traefik and Caddy pass the answer to the browser, so ?redirect=1 makes it a 302.
    if redirect in ("1", "true", "yes"):
        status = 302
    return _deny(status, reason, location)


def _granted(identity: SessionIdentity) -> Response:
    response = Response(status_code=200)
    user = identity.user
    values = (user.username, user.email, ",".join(sorted(identity.groups)))
    for name, value in zip(IDENTITY_HEADERS, values, strict=True):
        response.headers[name] = _header_value(value)
    return response


@router.api_route(VERIFY_PATH, methods=_METHODS)
def verify(request: Request, redirect: str = "") -> Response:
    """The proxy's question: may this request through? (See the module docstring.)"""
    access = _access(request)
    if isinstance(access, Response):
        return access
    target, rule = access
    ctx = session_handle(request).ctx
    try:
        identity = session_identity(
            ctx,
            request.cookies.get(SESSION_COOKIE),
            max_age_seconds=rule.session_seconds,
            max_idle_seconds=rule.idle_seconds,
            require_2fa=rule.require_2fa,
        )
    except NotEnrolled:
        # Logging in again would not help: send a browser to the enrolment instead.
        return _send_to(redirect, 403, "2fa-required", _security_url(request, target))
    if identity is None:
        return _send_to(redirect, 401, "login-required", _login_url(request, target))
    if not rule.admits(identity.user.username, identity.groups):
        log.info("forward auth: %s refused on site %s", identity.user.username, rule.name)
        return _deny(403, "not-allowed")
    return _granted(identity)
