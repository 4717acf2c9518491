"""The confirmation page in front of every admin action that weakens someone's protection.

The first POST of such a form changes nothing: it answers with a page that names the
action and its target, carries the form's values and the CSRF token, and, when the
admin's full step-up is missing or older than ``settings.step_up_seconds``, asks for the
password and a current code. Only the POST of that page (``confirmed=yes``) runs the
action. Whether the step-up is needed and fresh is the service's rule: this module only
collects it and passes the session's time along.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Form
from fastapi.responses import HTMLResponse
from markupsafe import Markup, escape

from otpgate.service import admin_step_up
from otpgate.service.admin_step_up import StepUpProof
from otpgate.service.errors import ServiceError, StepUpRequired
from otpgate.service.views import UserView
from otpgate.web import i18n
from otpgate.web.deps import Page
from otpgate.web.field_errors import field_problem, is_field_problem
from otpgate.web.i18n import N_

__all__ = [
    "ConfirmFields",
    "ConfirmForm",
    "Confirmation",
    "named",
    "note_lines",
    "run_confirmed",
]

_T = TypeVar("_T")
_Field = Annotated[str, Form(max_length=2000)]


@dataclass(frozen=True)
class Confirmation:
    """What the confirmation page says, and where its form goes."""

    action: str  # translated: "Reset two-factor authentication"
    target: str  # who or what the action changes, named on the page
    post_to: str
    back_to: str
    fields: Mapping[str, str] = field(default_factory=dict)  # carried as hidden inputs
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConfirmFields:
    confirmed: bool
    password: str
    code: str


def _confirm_fields(
    confirmed: _Field = "", step_up_password: _Field = "", step_up_code: _Field = ""
) -> ConfirmFields:
    return ConfirmFields(confirmed == "yes", step_up_password, step_up_code)


ConfirmForm = Annotated[ConfirmFields, Depends(_confirm_fields)]


def note_lines(page: Page, fields: Mapping[str, str]) -> tuple[str, ...]:
    """The identity-check note of the form, shown on the page as it will be audited."""
    note = fields.get("note", "").strip()
    if not note:
        return ()
    with i18n.use_locale(page.locale):
        words = i18n.gettext("Identity check (kept in the audit log): %(note)s")
    # The note stays as the admin typed it: marked so that no translator touches it.
    typed = Markup('<span translate="no">%s</span>') % note
    return (escape(words) % {"note": typed},)


def named(subject: UserView) -> str:
    """How a confirmation page names an account."""
    if subject.display_name:
        return f"{subject.username} ({subject.display_name})"
    return subject.username


def run_confirmed(
    page: Page,
    ask: Confirmation,
    form: ConfirmFields,
    action: Callable[[datetime | None], _T],
    *,
    check: Callable[[], object] | None = None,
) -> _T | HTMLResponse:
    """Run ``action(step_up_at)`` once confirmed and stepped up; else the page to show.

    ``check`` (the service's own check of the form's input) runs first, so bad input is
    refused at once rather than after a confirmation it could never pass. A refused
    step-up or an expired one shows the page again with the reason; the errors of
    ``check`` and of the action are the caller's to present.
    """
    if check is not None:
        check()
    if not form.confirmed:
        return _confirm_page(page, ask)
    if form.password:
        proof = StepUpProof(form.password, form.code)
        try:
            at = admin_step_up.verify_admin_step_up(page.ctx, page.origin, page.user_id, proof)
        except ServiceError as exc:
            return _confirm_page(page, ask, exc)
        page.session.record_step_up(at, admin=True)
    view = page.session.current()
    try:
        return action(view.admin_step_up_at if view is not None else None)
    except StepUpRequired as exc:
        return _confirm_page(page, ask, exc)


def _confirm_page(page: Page, ask: Confirmation, exc: ServiceError | None = None) -> HTMLResponse:
    view = page.session.current()
    fresh = view is not None and admin_step_up.step_up_is_fresh(page.ctx, view.admin_step_up_at)
    values: dict[str, Any] = {
        "ask": ask,
        "step_up": not fresh,
        "needs_code": page.user is not None and page.user.has_2fa,
    }
    if exc is None:
        return page.render("admin/confirm.html", **values)
    if isinstance(exc, StepUpRequired):
        message = page.translate(N_("Confirm with your password and a current code to continue."))
        return page.render("admin/confirm.html", 403, error=message, **values)
    if is_field_problem(exc):
        return page.render("admin/confirm.html", **field_problem(page, exc, ""), **values)
    return page.render_problem("admin/confirm.html", exc, **values)
