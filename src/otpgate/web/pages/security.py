"""Profile → Security: the overview (2FA status, authenticators, recovery codes left,
trusted devices, a few recent events), all events, the password step-up, enrolment and
the recovery codes. The actions on one thing each have their own small page
(:mod:`otpgate.web.pages.security_settings`)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from otpgate.service import admin, audit, devices, enrolment, login, recovery, resync
from otpgate.service.errors import AuthenticationFailed, ServiceError, StepUpRequired
from otpgate.web import forward_auth, shown_codes
from otpgate.web.deps import Page, csrf_guard, enrol_page, full_page, safe_next
from otpgate.web.flash import flash, take_flash
from otpgate.web.i18n import N_
from otpgate.web.pages import factors

__all__ = ["after_switch_off", "codes_page", "router", "step_up_redirect"]

router = APIRouter(dependencies=[Depends(csrf_guard)], include_in_schema=False)

FullPage = Annotated[Page, Depends(full_page)]
EnrolPage = Annotated[Page, Depends(enrol_page)]
Text = Annotated[str, Form(max_length=2000)]
_EVENTS_SHOWN = 5
_EVENTS_LISTED = 100


def step_up_redirect(page: Page, back: str) -> RedirectResponse:
    """Send the browser to the password re-prompt, and back to ``back`` after it."""
    return page.redirect(f"/security/step-up?next={quote(back, safe='/')}")


def _security(page: Page, status: int = 200, error: str | None = None) -> HTMLResponse:
    user_id = page.user_id
    user = page.user
    assert user is not None
    # Codes not confirmed as saved are not kept once the person is back here.
    shown_codes.forget(page)
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
        drifts={c.id: resync.clock_drift(c) for c in creds},
        **keys,
    )


@router.get("/security", response_class=HTMLResponse)
def security(page: FullPage) -> HTMLResponse:
    # Forward auth sends an account that a site wants with 2FA here, ``rd`` = that site:
    # kept (validated) for the end of the enrolment.
    forward_auth.remember_return_url(page)
    return _security(page)


@router.get("/security/events", response_class=HTMLResponse)
def all_events(page: FullPage) -> HTMLResponse:
    user = page.user
    assert user is not None
    events = audit.query_audit(page.ctx, username=user.username, limit=_EVENTS_LISTED)
    return page.render("security/events.html", events=events, limit=_EVENTS_LISTED)


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
    except AuthenticationFailed:
        # The account is known here: only the password can be wrong.
        message = page.translate(N_("Your password is not correct."))
        return page.render("step_up.html", 401, next=back, field_error=message)
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


def codes_page(page: Page, codes: list[str], *, first: bool, done: str = "/security") -> Response:
    """Show new recovery codes by post/redirect/get: a reload shows them again."""
    shown_codes.keep(page, codes, first=first, done=done)
    return page.redirect("/security/recovery-codes/show")


@router.get("/security/recovery-codes", response_class=HTMLResponse)
def regenerate_form(page: FullPage) -> HTMLResponse:
    return page.render(
        "security/new_codes.html", codes_left=recovery.recovery_codes_left(page.ctx, page.user_id)
    )


@router.post("/security/recovery-codes", response_class=HTMLResponse)
def regenerate_codes(page: FullPage) -> Response:
    try:
        codes = recovery.regenerate_recovery_codes(
            page.ctx, page.origin, page.user_id, step_up_at=page.view.step_up_at
        )
    except StepUpRequired:
        return step_up_redirect(page, "/security/recovery-codes")
    except ServiceError as exc:
        return page.render_problem(
            "security/new_codes.html", exc,
            codes_left=recovery.recovery_codes_left(page.ctx, page.user_id),
        )
    return codes_page(page, codes, first=False)


@router.get("/security/recovery-codes/show", response_class=HTMLResponse)
def show_codes(page: FullPage) -> Response:
    shown = shown_codes.take(page)
    if shown is None:
        # Saved already (or never made): nothing to show again, and nothing went wrong.
        return page.redirect("/security")
    text = "\n".join(shown.codes) + "\n"
    return page.render(
        "recovery_codes.html", codes=shown.codes, download=quote(text, safe=""),
        first=shown.first,
    )


@router.post("/security/recovery-codes/saved")
def codes_saved(page: FullPage) -> RedirectResponse:
    shown = shown_codes.take(page)
    shown_codes.forget(page)
    return page.redirect(shown.done if shown is not None else "/security")


@router.post("/security/devices/{device_id}/revoke", response_class=HTMLResponse)
def revoke_device(page: FullPage, device_id: int) -> Response:
    try:
        devices.revoke_device(page.ctx, page.origin, page.user_id, device_id)
    except ServiceError as exc:
        problem = page.problem(exc)
        return _security(page, problem.status, problem.message)
    flash(page, "device_revoked")
    return page.redirect("/security")
