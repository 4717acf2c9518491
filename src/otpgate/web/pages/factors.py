"""Care of the second factors: HOTP resynchronisation at the code step, the drift and
recovery-code notices, and an admin's one-time bypass code.

The rules (when a drift is worth telling, what a bypass code allows) are the service's;
these handlers choose the page and the notice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from otpgate.service import admin, bypass, enrolment, passkey_login, passkeys, resync, users
from otpgate.service.errors import ServiceError
from otpgate.service.views import BypassIssued, SecondFactor
from otpgate.web import forward_auth, i18n
from otpgate.web.admin_confirm import (
    Confirmation,
    ConfirmForm,
    named,
    note_lines,
    run_confirmed,
)
from otpgate.web.deps import Page, admin_page, csrf_guard, half_page
from otpgate.web.flash import flash

__all__ = [
    "FEW_RECOVERY_CODES",
    "enrol_after_bypass",
    "passkey_section",
    "passwordless_offer",
    "router",
    "two_factor_hints",
    "warn_if_few_recovery_codes",
]

router = APIRouter(dependencies=[Depends(csrf_guard)], include_in_schema=False)

HalfPage = Annotated[Page, Depends(half_page)]
AdminPage = Annotated[Page, Depends(admin_page)]
Text = Annotated[str, Form(max_length=2000)]

#: Below this many recovery codes left, the user is told after logging in.
FEW_RECOVERY_CODES = 3


def two_factor_hints(page: Page) -> dict[str, Any]:
    """What the code page says beyond the form: a clock drift, and HOTP resync's link."""
    creds = enrolment.list_credentials(page.ctx, page.user_id)
    drifts = [d for d in (resync.clock_drift(c) for c in creds) if d is not None]
    return {
        "drift": max(drifts, key=abs) if drifts else None,
        "has_hotp": any(c.kind == "hotp" for c in creds),
        "has_codes": bool(creds),
        # Offered first when the user has one (and the portal's address allows passkeys).
        "has_passkey": page.ctx.settings.passkeys.enabled
        and bool(passkeys.list_passkeys(page.ctx, page.user_id)),
    }


def passkey_section(page: Page) -> dict[str, Any]:
    """What the security page's passkey card shows."""
    enabled = page.ctx.settings.passkeys.enabled
    listed = passkeys.list_passkeys(page.ctx, page.user_id)
    return {"passkeys_enabled": enabled or bool(listed), "passkeys": listed}


def passwordless_offer(page: Page) -> dict[str, Any]:
    """Whether the login page offers "Sign in with a passkey" (policy and set-up allow it)."""
    return {"passwordless": passkey_login.passwordless_allowed(page.ctx)}


def warn_if_few_recovery_codes(page: Page, factor: SecondFactor) -> bool:
    """Flash a warning when fewer than :data:`FEW_RECOVERY_CODES` are left; True if so."""
    if factor.recovery_codes_left >= FEW_RECOVERY_CODES:
        return False
    flash(page, "recovery_low", left=factor.recovery_codes_left)
    return True


def enrol_after_bypass(page: Page) -> RedirectResponse:
    """After a bypass code: an enrolment-only session (the password counts as the step-up)."""
    page.session.rotate("enrol", page.user_id, step_up=True)
    flash(page, "bypass_used")
    return page.redirect("/security/enable")


def _resync_page(page: Page, status: int = 200, error: str | None = None) -> HTMLResponse:
    return page.render("login_resync.html", status, error=error)


@router.get("/login/2fa/resync", response_class=HTMLResponse)
def resync_form(page: HalfPage) -> HTMLResponse:
    return _resync_page(page)


@router.post("/login/2fa/resync", response_class=HTMLResponse)
def resync_submit(page: HalfPage, first: Text = "", second: Text = "") -> Response:
    try:
        factor = resync.resync_hotp(page.ctx, page.origin, page.user_id, first, second)
    except ServiceError as exc:
        return page.render_problem("login_resync.html", exc)
    page.session.rotate("full", page.user_id)
    done = page.redirect(forward_auth.take_return_url(page))
    if not warn_if_few_recovery_codes(page, factor):
        flash(page, "hotp_resynced")
    return done


@router.post("/admin/users/{user_id}/bypass", response_class=HTMLResponse)
def issue_bypass(
    page: AdminPage, user_id: int, confirm: ConfirmForm, note: Text = ""
) -> Response:
    subject = users.get_user(page.ctx, user_id)
    with i18n.use_locale(page.locale):
        action = i18n.gettext("Issue a one-time bypass code")
    fields = {"note": note}
    ask = Confirmation(action, named(subject), f"/admin/users/{user_id}/bypass",
                       f"/admin/users/{user_id}", fields, note_lines(page, fields))

    def run(step_up_at: datetime | None) -> BypassIssued:
        return bypass.issue_bypass_code(page.ctx, page.origin, page.user_id, user_id, note,
                                        step_up_at=step_up_at)

    try:
        issued = run_confirmed(page, ask, confirm, run,
                               check=lambda: admin.check_identity_note(note))
    except ServiceError as exc:
        return page.render_problem("admin/bypass.html", exc, subject=subject, issued=None,
                                   note=note)
    if isinstance(issued, Response):
        return issued
    # Shown on this response only (pages are sent no-store); the database keeps a hash.
    return page.render("admin/bypass.html", subject=subject, issued=issued, note="")
