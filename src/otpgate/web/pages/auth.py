"""Logging in and out: password, second factor (code, recovery code, trusted device),
language switch and first-run setup."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from otpgate.service import bypass, enrolment, login, setup, users
from otpgate.service import web_sessions as ws
from otpgate.service.errors import NotPermitted, ServiceError
from otpgate.service.views import PasswordStep, SecondFactor
from otpgate.web import forward_auth, i18n
from otpgate.web.deps import (
    LEVEL_HOME,
    Page,
    anonymous_page,
    any_page,
    csrf_guard,
    half_page,
    safe_next,
)
from otpgate.web.errors import Redirect
from otpgate.web.flash import flash, take_flash
from otpgate.web.pages import factors
from otpgate.web.pages.factors import passwordless_offer
from otpgate.web.sessions import DEVICE_COOKIE
from otpgate.web.useragent import device_name

__all__ = ["finish_login", "router", "two_factor_page"]

router = APIRouter(dependencies=[Depends(csrf_guard)], include_in_schema=False)

AnyPage = Annotated[Page, Depends(any_page)]
AnonymousPage = Annotated[Page, Depends(anonymous_page)]
HalfPage = Annotated[Page, Depends(half_page)]
Text = Annotated[str, Form(max_length=2000)]
OptionalText = Annotated[str, Form(max_length=2000)]


def login_entry(page: Page = Depends(any_page)) -> Page:  # noqa: B008 - FastAPI idiom
    """:func:`anonymous_page` for ``GET /login``, which a proxy sends every session to.

    The return URL (``rd``/``next``, validated) is kept at every level before the level's
    redirect, so it survives the second factor or enrolment; a full session needs no
    login and goes straight to it (or home when it is missing or refused).
    """
    forward_auth.remember_return_url(page)
    if page.view.level == "full":
        raise Redirect(forward_auth.take_return_url(page))
    return anonymous_page(page)


@router.get("/login", response_class=HTMLResponse)
def login_form(page: Annotated[Page, Depends(login_entry)]) -> HTMLResponse:
    return page.render("login.html", notice=take_flash(page), **passwordless_offer(page))


@router.post("/login", response_class=HTMLResponse)
def login_submit(
    page: AnonymousPage, username: Text = "", password: OptionalText = ""
) -> Response:
    try:
        step = login.check_password(page.ctx, page.origin, username, password)
    except ServiceError as exc:
        return page.render_problem(
            "login.html", exc, username=username, **passwordless_offer(page)
        )
    ws.purge_expired_sessions(page.ctx)
    return _after_password(page, step)


def _after_password(page: Page, step: PasswordStep) -> RedirectResponse:
    user_id = step.user.id
    if step.needs_second_factor:
        device = page.request.cookies.get(DEVICE_COOKIE)
        if device:
            if login.check_trusted_device(page.ctx, page.origin, user_id, device):
                page.session.rotate("full", user_id)
                return page.redirect(forward_auth.take_return_url(page))
            page.session.clear_device_cookie()
        page.session.rotate("password", user_id)
        return page.redirect(LEVEL_HOME["password"])
    if step.must_enrol:
        # The password was typed just now: it counts as the step-up enrolment asks for.
        page.session.rotate("enrol", user_id, step_up=True)
        return page.redirect(LEVEL_HOME["enrol"])
    page.session.rotate("full", user_id)
    return page.redirect(forward_auth.take_return_url(page))


def _code_digits(page: Page) -> int:
    creds = enrolment.list_credentials(page.ctx, page.user_id)
    digits = {c.digits for c in creds}
    return digits.pop() if len(digits) == 1 else 6


def two_factor_page(page: Page, status: int = 200, error: str | None = None) -> HTMLResponse:
    digits = _code_digits(page)
    return page.render(
        "two_factor.html",
        status,
        error=error,
        digits=digits,
        placeholder="1234567890"[:digits],
        trust_days=page.ctx.settings.trusted_device_days,
        **factors.two_factor_hints(page),
    )


@router.get("/login/2fa", response_class=HTMLResponse)
def two_factor_form(page: HalfPage) -> HTMLResponse:
    return two_factor_page(page)


@router.post("/login/2fa", response_class=HTMLResponse)
def two_factor_submit(
    page: HalfPage, code: Text = "", trust: OptionalText = ""
) -> Response:
    try:
        factor = login.verify_code(page.ctx, page.origin, page.user_id, code)
    except ServiceError as exc:
        problem = page.problem(exc)
        response = two_factor_page(page, problem.status, problem.message)
        if problem.retry_after is not None:
            response.headers["Retry-After"] = str(problem.retry_after)
        return response
    done = finish_login(page, trust == "yes")
    factors.warn_if_few_recovery_codes(page, factor)
    _warn_about_drift(page, factor)  # the more urgent notice wins
    return done


def _warn_about_drift(page: Page, factor: SecondFactor) -> None:
    # The service measures the drift; saying so is presentation (half a step is the
    # point where the next drift would leave the accepted window).
    drift = factor.drift_seconds
    if drift is None or factor.credential_id is None:
        return
    period = next(
        (c.period for c in enrolment.list_credentials(page.ctx, page.user_id)
         if c.id == factor.credential_id),
        30,
    )
    if abs(drift) > period / 2:
        flash(page, "clock_behind" if drift < 0 else "clock_ahead", n=round(abs(drift)))


def finish_login(page: Page, trust: bool) -> RedirectResponse:
    user_id = page.user_id
    if trust and page.ctx.settings.trusted_device_days > 0:
        name = device_name(page.origin.user_agent)
        token = login.trust_device(page.ctx, page.origin, user_id, name)
        page.session.set_device_cookie(token, page.ctx.settings.trusted_device_days)
    page.session.rotate("full", user_id)
    return page.redirect(forward_auth.take_return_url(page))


@router.get("/login/recovery", response_class=HTMLResponse)
def recovery_form(page: HalfPage) -> HTMLResponse:
    return page.render("recovery_login.html")


@router.post("/login/recovery", response_class=HTMLResponse)
def recovery_submit(page: HalfPage, code: Text = "") -> Response:
    try:
        # The page takes recovery codes and an administrator's one-time bypass codes.
        factor = bypass.verify_recovery_or_bypass_code(page.ctx, page.origin, page.user_id, code)
    except ServiceError as exc:
        return page.render_problem("recovery_login.html", exc, single_use=True)
    if factor.method == "bypass":
        return factors.enrol_after_bypass(page)
    response = finish_login(page, trust=False)
    if not factors.warn_if_few_recovery_codes(page, factor):
        flash(page, "recovery_used", left=factor.recovery_codes_left)
    return response


@router.post("/login/cancel")
def cancel(page: AnyPage) -> RedirectResponse:
    # A new anonymous session: the old id (and its half-login) is dead at once.
    page.session.rotate("anonymous", None)
    return page.redirect("/login")


@router.post("/logout")
def logout(page: AnyPage) -> RedirectResponse:
    page.session.rotate("anonymous", None)
    flash(page, "logged_out")
    return page.redirect("/login")


@router.post("/lang")
def switch_language(page: AnyPage, lang: Text = "", next: Text = "/") -> RedirectResponse:
    if lang not in i18n.LOCALES:
        lang = i18n.DEFAULT_LOCALE
    page.session.update(lang=lang)
    if page.user is not None and page.view.level == "full":
        users.set_locale(page.ctx, page.user.id, lang)
    return page.redirect(safe_next(next))


@router.get("/setup", response_class=HTMLResponse)
def setup_form(page: AnonymousPage, token: str = "") -> HTMLResponse:
    if not setup.setup_token_needed(page.ctx):
        return page.render("setup.html", 404, done=True)
    return page.render("setup.html", token=token)


@router.post("/setup", response_class=HTMLResponse)
def setup_submit(
    page: AnonymousPage,
    token: Text = "",
    username: Text = "",
    password: OptionalText = "",
    password2: OptionalText = "",
) -> Response:
    if password != password2:
        error = _("The two passwords are not the same.", page)
        return page.render("setup.html", 400, token=token, username=username, error=error)
    try:
        step = setup.complete_setup(page.ctx, page.origin, token, username, password)
    except NotPermitted:
        error = _("This setup link is not valid: it was used or replaced, or setup is done.", page)
        return page.render("setup.html", 403, token=token, username=username, error=error)
    except ServiceError as exc:
        return page.render_problem("setup.html", exc, token=token, username=username)
    # The new admin typed the password just now: logged in, and led to enrolment when the
    # policy (2FA for admins, on out of the box) asks for it.
    response = _after_password(page, step)
    flash(page, "setup_enrol" if step.must_enrol else "setup_done")
    return response


def _(message: str, page: Page) -> str:
    with i18n.use_locale(page.locale):
        return i18n.gettext(message)
