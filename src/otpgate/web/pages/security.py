"""Profile → Security: 2FA status, enrolment (after a step-up), recovery codes,
authenticators, trusted devices, recent events and the language setting."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from otpgate.service import admin, audit, devices, enrolment, login, recovery, resync, users
from otpgate.service.errors import AuthenticationFailed, ServiceError, StepUpRequired
from otpgate.web import forward_auth, i18n
from otpgate.web.deps import Page, csrf_guard, enrol_page, full_page, safe_next
from otpgate.web.flash import flash, take_flash
from otpgate.web.pages import factors

__all__ = ["after_switch_off", "codes_page", "router", "step_up_redirect"]

router = APIRouter(dependencies=[Depends(csrf_guard)], include_in_schema=False)

FullPage = Annotated[Page, Depends(full_page)]
EnrolPage = Annotated[Page, Depends(enrol_page)]
Text = Annotated[str, Form(max_length=2000)]
_EVENTS_SHOWN = 15


def step_up_redirect(page: Page, back: str) -> RedirectResponse:
    return page.redirect(f"/security/step-up?next={quote(back, safe='/')}")


def _security(page: Page, status: int = 200, error: str | None = None) -> HTMLResponse:
    user_id = page.user_id
    user = page.user
    assert user is not None
    creds = enrolment.list_credentials(page.ctx, user_id)
    keys = factors.passkey_section(page)
    return page.render(
        "security.html",
        status,
        error=error,
        notice=take_flash(page),
        credentials=creds,
        codes_left=recovery.recovery_codes_left(page.ctx, user_id)
        if creds or keys["passkeys"] else None,
        devices=devices.list_devices(page.ctx, user_id),
        events=audit.query_audit(page.ctx, username=user.username, limit=_EVENTS_SHOWN),
        half_period=min((c.period for c in creds), default=30) / 2,
        drifts={c.id: resync.clock_drift(c) for c in creds},
        **keys,
    )


@router.get("/security", response_class=HTMLResponse)
def security(page: FullPage) -> HTMLResponse:
    # Forward auth sends an account that a site wants with 2FA here, ``rd`` = that site:
    # kept (validated) for the end of the enrolment.
    forward_auth.remember_return_url(page)
    return _security(page)


@router.get("/security/step-up", response_class=HTMLResponse)
def step_up_form(page: EnrolPage, next: str = "/security") -> HTMLResponse:
    return page.render("step_up.html", next=safe_next(next, "/security"))


@router.post("/security/step-up", response_class=HTMLResponse)
def step_up_submit(
    page: EnrolPage, password: Text = "", next: Text = "/security"
) -> Response:
    back = safe_next(next, "/security")
    try:
        at = login.verify_step_up(page.ctx, page.origin, page.user_id, password)
    except ServiceError as exc:
        return page.render_problem("step_up.html", exc, next=back)
    page.session.record_step_up(at)
    return page.redirect(back)


@router.get("/security/enable", response_class=HTMLResponse)
def enable_form(page: EnrolPage) -> Response:
    try:
        pending = enrolment.begin_enrolment(
            page.ctx, page.origin, page.user_id, step_up_at=page.view.step_up_at
        )
    except StepUpRequired:
        return step_up_redirect(page, "/security/enable")
    return page.render("enable.html", pending=pending, name="", notice=take_flash(page))


@router.post("/security/enable", response_class=HTMLResponse)
def enable_submit(
    page: EnrolPage, credential_id: Text = "", name: Text = "", code: Text = ""
) -> Response:
    try:
        cred_id = int(credential_id)
    except ValueError:
        return page.redirect("/security/enable")
    try:
        codes = enrolment.confirm_enrolment(
            page.ctx, page.origin, page.user_id, cred_id, code, name
        )
    except ServiceError as exc:
        return page.render_problem(
            "enable.html", exc, pending=None, credential_id=cred_id, name=name
        )
    if page.view.level == "enrol":
        # 2FA proven just now: the enrolment-only session becomes a full one.
        page.session.rotate("full", page.user_id)
    # Back to the site that asked for 2FA (forward auth), if the login came from one.
    done = forward_auth.take_return_url(page, "/security")
    if codes:
        return codes_page(page, codes, first=True, done=done)
    flash(page, "authenticator_added")
    return page.redirect(done)


def after_switch_off(page: Page, back: str) -> RedirectResponse:
    """After 2FA may have been turned off: the service ended the account's other sessions,
    this one goes on under a new id — at the enrolment level if the policy requires 2FA of
    the account (the password was typed just now: it counts as the step-up)."""
    if admin.must_enrol(page.ctx, page.user_id):
        page.session.rotate("enrol", page.user_id, step_up=True)
        return page.redirect("/security/enable")
    page.session.rotate("full", page.user_id)
    return page.redirect(back)


def codes_page(
    page: Page, codes: list[str], *, first: bool, done: str = "/security"
) -> HTMLResponse:
    text = "\n".join(codes) + "\n"
    return page.render(
        "recovery_codes.html", codes=codes, download=quote(text, safe=""), first=first,
        done=done,
    )


@router.post("/security/disable", response_class=HTMLResponse)
def disable(
    page: FullPage, password: Text = "", code: Text = ""
) -> Response:
    try:
        enrolment.disable_2fa(page.ctx, page.origin, page.user_id, password, code,
                              keep_session=page.view.id_hash)
    except ServiceError as exc:
        problem = page.problem(exc)
        return _security(page, problem.status, problem.message)
    flash(page, "twofa_disabled")
    return after_switch_off(page, "/security")


@router.post("/security/recovery-codes", response_class=HTMLResponse)
def regenerate_codes(page: FullPage) -> Response:
    try:
        codes = recovery.regenerate_recovery_codes(
            page.ctx, page.origin, page.user_id, step_up_at=page.view.step_up_at
        )
    except StepUpRequired:
        return step_up_redirect(page, "/security")
    except ServiceError as exc:
        problem = page.problem(exc)
        return _security(page, problem.status, problem.message)
    return codes_page(page, codes, first=False)


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
        return step_up_redirect(page, "/security")
    except ServiceError as exc:
        problem = page.problem(exc)
        return _security(page, problem.status, problem.message)
    flash(page, "authenticator_removed")
    return after_switch_off(page, "/security")


@router.post("/security/authenticators/{credential_id}/rename", response_class=HTMLResponse)
def rename_authenticator(page: FullPage, credential_id: int, name: Text = "") -> Response:
    try:
        enrolment.rename_credential(page.ctx, page.origin, page.user_id, credential_id, name)
    except ServiceError as exc:
        problem = page.problem(exc)
        return _security(page, problem.status, problem.message)
    flash(page, "authenticator_renamed")
    return page.redirect("/security")


@router.post("/security/devices/{device_id}/revoke", response_class=HTMLResponse)
def revoke_device(page: FullPage, device_id: int) -> Response:
    try:
        devices.revoke_device(page.ctx, page.origin, page.user_id, device_id)
    except ServiceError as exc:
        problem = page.problem(exc)
        return _security(page, problem.status, problem.message)
    flash(page, "device_revoked")
    return page.redirect("/security")


@router.post("/security/password", response_class=HTMLResponse)
def change_password(
    page: FullPage, current: Text = "", password: Text = "", password2: Text = ""
) -> Response:
    if password != password2:
        error = _("The two new passwords are not the same.", page)
        return _security(page, 400, error)
    try:
        users.change_password(page.ctx, page.origin, page.user_id, current, password,
                              keep_session=page.view.id_hash)
    except AuthenticationFailed:
        return _security(page, 401, _("Your password is not correct.", page))
    except ServiceError as exc:
        problem = page.problem(exc)
        return _security(page, problem.status, problem.message)
    # The service ended every other session of the account (a thief's must not survive);
    # this browser keeps its session under a new id, and the current password typed just
    # now counts as a step-up.
    page.session.rotate("full", page.user_id, step_up=True)
    flash(page, "password_changed")
    return page.redirect("/security")


def _(message: str, page: Page) -> str:
    with i18n.use_locale(page.locale):
        return i18n.gettext(message)


@router.post("/security/language")
def set_language(page: FullPage, lang: Text = "") -> RedirectResponse:
    locale = lang if lang in i18n.LOCALES else None
    users.set_locale(page.ctx, page.user_id, locale)
    # The session's own pick would hide the setting: the setting is the newer choice.
    page.session.update(lang=locale)
    flash(page, "language_saved")
    return page.redirect("/security")
