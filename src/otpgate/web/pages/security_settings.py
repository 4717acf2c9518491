"""Security → one thing at a time: an authenticator (rename, remove), turning 2FA off,
the password and the language. Each form has its own small page, and
a refusal comes back on that page, next to the field concerned."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from otpgate.service import enrolment, resync, users
from otpgate.service.errors import (
    AuthenticationFailed,
    NotFound,
    ServiceError,
    StepUpRequired,
)
from otpgate.service.views import CredentialView
from otpgate.web import i18n
from otpgate.web.deps import Page, csrf_guard, full_page
from otpgate.web.field_errors import field_problem
from otpgate.web.flash import flash
from otpgate.web.i18n import N_
from otpgate.web.pages.security import after_switch_off, step_up_redirect

__all__ = ["router"]

router = APIRouter(dependencies=[Depends(csrf_guard)], include_in_schema=False)

FullPage = Annotated[Page, Depends(full_page)]
Text = Annotated[str, Form(max_length=2000)]


# -- authenticators ---------------------------------------------------------------------

def _credential(page: Page, credential_id: int) -> tuple[CredentialView, list[CredentialView]]:
    creds = enrolment.list_credentials(page.ctx, page.user_id)
    found = next((c for c in creds if c.id == credential_id), None)
    if found is None:
        raise NotFound("No such authenticator.")
    return found, [c for c in creds if c.id != credential_id]


def _authenticator_page(page: Page, credential_id: int, status: int = 200,
                        **values: Any) -> HTMLResponse:
    cred, others = _credential(page, credential_id)
    return page.render(
        "security/authenticator.html", status, c=cred, others=others,
        drift=resync.clock_drift(cred), **values,
    )


@router.get("/security/authenticators/{credential_id}", response_class=HTMLResponse)
def authenticator(page: FullPage, credential_id: int) -> HTMLResponse:
    return _authenticator_page(page, credential_id)


@router.post("/security/authenticators/{credential_id}/remove", response_class=HTMLResponse)
def remove_authenticator(
    page: FullPage, credential_id: int, code: Text = "", password: Text = ""
) -> Response:
    try:
        # The code proves the user keeps another working authenticator; the last one goes
        # only with the password and a code, as when turning 2FA off.
        enrolment.remove_credential(
            page.ctx, page.origin, page.user_id, credential_id,
            step_up_at=page.view.step_up_at, code=code or None, password=password or None,
            keep_session=page.view.id_hash,
        )
    except StepUpRequired:
        return step_up_redirect(page, f"/security/authenticators/{credential_id}")
    except ServiceError as exc:
        values = field_problem(page, exc, "code")
        return _authenticator_page(page, credential_id, values.pop("status"), **values)
    flash(page, "authenticator_removed")
    return after_switch_off(page, "/security")


@router.post("/security/authenticators/{credential_id}/rename", response_class=HTMLResponse)
def rename_authenticator(page: FullPage, credential_id: int, name: Text = "") -> Response:
    try:
        enrolment.rename_credential(page.ctx, page.origin, page.user_id, credential_id, name)
    except ServiceError as exc:
        problem = page.problem(exc)
        return _authenticator_page(page, credential_id, problem.status,
                                   rename_error=problem.message, new_name=name)
    flash(page, "authenticator_renamed")
    return page.redirect("/security")


# -- turning 2FA off --------------------------------------------------------------------

@router.get("/security/disable", response_class=HTMLResponse)
def disable_form(page: FullPage) -> Response:
    if not enrolment.list_credentials(page.ctx, page.user_id):
        return page.redirect("/security")
    return page.render("security/disable.html")


@router.post("/security/disable", response_class=HTMLResponse)
def disable(page: FullPage, password: Text = "", code: Text = "") -> Response:
    try:
        enrolment.disable_2fa(page.ctx, page.origin, page.user_id, password, code,
                              keep_session=page.view.id_hash)
    except ServiceError as exc:
        values = field_problem(page, exc, "")
        return page.render("security/disable.html", values.pop("status"), **values)
    flash(page, "twofa_disabled")
    return after_switch_off(page, "/security")


# -- password and language --------------------------------------------------------------

@router.get("/security/password", response_class=HTMLResponse)
def password_form(page: FullPage) -> HTMLResponse:
    return page.render("security/password.html")


@router.post("/security/password", response_class=HTMLResponse)
def change_password(
    page: FullPage, current: Text = "", password: Text = "", password2: Text = ""
) -> Response:
    if password != password2:
        message = page.translate(N_("The two new passwords are not the same."))
        return page.render("security/password.html", 400, error_field="password2",
                           field_error=message)
    lang = page.view.data.get("lang")
    try:
        users.change_password(page.ctx, page.origin, page.user_id, current, password,
                              keep_session=page.view.id_hash)
    except AuthenticationFailed:
        return page.render("security/password.html", 401, error_field="current",
                           field_error=page.translate(N_("Your password is not correct.")))
    except ServiceError as exc:
        return page.render_problem("security/password.html", exc)
    # The service ended every other session of the account (a thief's must not survive);
    # this browser keeps its session under a new id, and the current password typed just
    # now counts as a step-up.
    page.session.rotate("full", page.user_id, step_up=True)
    if isinstance(lang, str):
        page.session.update(lang=lang)
    flash(page, "password_changed")
    return page.redirect("/security")


@router.get("/security/language", response_class=HTMLResponse)
def language_form(page: FullPage) -> HTMLResponse:
    return page.render("security/language.html")


@router.post("/security/language")
def set_language(page: FullPage, lang: Text = "") -> RedirectResponse:
    locale = lang if lang in i18n.LOCALES else None
    users.set_locale(page.ctx, page.user_id, locale)
    # The session's own pick would hide the setting: the setting is the newer choice.
    page.session.update(lang=locale)
    flash(page, "language_saved")
    return page.redirect("/security")
