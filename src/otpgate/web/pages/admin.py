"""Admin area: users (search, create, reset 2FA, unlock, deactivate), audit log, policy.

Actions that weaken someone's protection (reset 2FA, set a password, deactivate, create
an administrator, change the policy) go through :mod:`otpgate.web.admin_confirm`: a
confirmation page naming the target, with a full step-up when the admin's is not fresh.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from otpgate.service import admin, admin_rights, audit, enrolment, invitations, users
from otpgate.service.audit import AuditKind
from otpgate.service.errors import AccountDisabled, InvalidInput, ServiceError
from otpgate.service.views import UserView
from otpgate.web import i18n
from otpgate.web.admin_confirm import (
    Confirmation,
    ConfirmForm,
    named,
    note_lines,
    run_confirmed,
)
from otpgate.web.deps import Page, admin_page, csrf_guard
from otpgate.web.flash import flash, take_flash
from otpgate.web.i18n import N_

__all__ = ["router"]

router = APIRouter(
    prefix="/admin", dependencies=[Depends(csrf_guard)], include_in_schema=False
)

AdminPage = Annotated[Page, Depends(admin_page)]
Text = Annotated[str, Form(max_length=2000)]
_PAGE_SIZE = 50
# The account page shows the latest few; the audit page has them all.
_EVENTS_SHOWN = 8


@router.get("")
def admin_home(page: AdminPage) -> RedirectResponse:
    return page.redirect("/admin/users")


@router.get("/users", response_class=HTMLResponse)
def user_list(page: AdminPage, q: str = "") -> HTMLResponse:
    try:
        found = users.list_users(page.ctx, search=q[:200])
    except ServiceError as exc:
        return page.render_problem("admin/users.html", exc, found=[], q=q)
    return page.render("admin/users.html", found=found, q=q, notice=take_flash(page),
                       mail_enabled=page.ctx.settings.smtp_configured)


@router.get("/users/new", response_class=HTMLResponse)
def new_user_form(page: AdminPage) -> HTMLResponse:
    return page.render("admin/new_user.html", values={})


@router.post("/users/new", response_class=HTMLResponse)
def new_user_submit(
    page: AdminPage,
    *,
    username: Text = "",
    display_name: Text = "",
    email: Text = "",
    password: Text = "",
    is_admin: Text = "",
    confirm: ConfirmForm,
) -> Response:
    values = {"username": username, "display_name": display_name, "email": email}

    def create(step_up_at: datetime | None) -> UserView:
        return users.create_user(
            page.ctx,
            page.origin,
            username,
            password,
            email=email,
            display_name=display_name,
            is_admin=is_admin == "yes",
            actor_id=page.user_id,
            step_up_at=step_up_at,
        )

    try:
        if is_admin == "yes":  # a new administrator: confirmed, with a step-up
            ask = Confirmation(
                _("Create an administrator", page), username, "/admin/users/new",
                "/admin/users/new", {**values, "password": password, "is_admin": "yes"},
            )
            outcome = run_confirmed(page, ask, confirm, create)
            if isinstance(outcome, Response):
                return outcome
            created = outcome
        else:
            created = create(None)
    except ServiceError as exc:
        return page.render_problem("admin/new_user.html", exc, values=values)
    flash(page, "user_created")
    return page.redirect(f"/admin/users/{created.id}")


def _user_page(page: Page, user_id: int, status: int = 200, error: str | None = None,
               note: str = "") -> HTMLResponse:
    subject = users.get_user(page.ctx, user_id)
    try:
        credentials = enrolment.list_credentials(page.ctx, user_id)
    except AccountDisabled:
        credentials = []  # the service lists authenticators of active accounts only
    return page.render(
        "admin/user.html",
        status,
        error=error,
        note=note,
        notice=take_flash(page),
        subject=subject,
        locked_until=admin.lock_state(page.ctx, user_id),
        credentials=credentials,
        events=audit.query_audit(page.ctx, username=subject.username, limit=_EVENTS_SHOWN),
        mail_enabled=page.ctx.settings.smtp_configured,
        bypass_minutes=page.ctx.settings.bypass_code_minutes,
    )


@router.get("/users/{user_id}", response_class=HTMLResponse)
def user_detail(page: AdminPage, user_id: int) -> HTMLResponse:
    return _user_page(page, user_id)


def _confirmed_user_action(  # noqa: PLR0917 - one call per route, keywords read worse
    page: Page,
    user_id: int,
    confirm: ConfirmForm,
    what: str,
    fields: dict[str, str],
    run: Callable[[datetime | None], object],
    done: str,
    *,
    check: Callable[[], object] | None = None,
) -> Response:
    """Confirm ``what`` on the account, run it, then back to the account with notice
    ``done``; a refusal (of ``check`` at once, or of the action) shows the account page
    with the reason."""
    subject = users.get_user(page.ctx, user_id)
    back = f"/admin/users/{user_id}"
    ask = Confirmation(_(what, page), named(subject), page.request.url.path, back, fields,
                       note_lines(page, fields))
    try:
        outcome = run_confirmed(page, ask, confirm, run, check=check)
    except ServiceError as exc:
        problem = page.problem(exc)
        return _user_page(page, user_id, problem.status, problem.message,
                          note=fields.get("note", ""))
    if isinstance(outcome, Response):
        return outcome
    flash(page, done)
    return page.redirect(back)


@router.post("/users/{user_id}/reset-2fa", response_class=HTMLResponse)
def reset_2fa(page: AdminPage, user_id: int, confirm: ConfirmForm, note: Text = "") -> Response:
    def run(step_up_at: datetime | None) -> None:
        admin.reset_2fa(page.ctx, page.origin, page.user_id, user_id, note,
                        step_up_at=step_up_at)

    return _confirmed_user_action(page, user_id, confirm, N_("Reset two-factor authentication"),
                                  {"note": note}, run, "twofa_reset",
                                  check=lambda: admin.check_identity_note(note))


@router.post("/users/invite", response_class=HTMLResponse)
def invite_all(page: AdminPage) -> Response:
    """E-mail every active user without 2FA an invitation to turn it on."""
    try:
        report = invitations.invite_to_enable_2fa(
            page.ctx, page.origin, page.user_id, all_without_2fa=True
        )
    except ServiceError as exc:
        return page.render_problem("admin/users.html", exc, found=[], q="", mail_enabled=False)
    flash(page, "invited", n=len(report.invited), skipped=len(report.skipped))
    return page.redirect("/admin/users")


@router.post("/users/{user_id}/invite", response_class=HTMLResponse)
def invite_one(page: AdminPage, user_id: int) -> Response:
    """E-mail this user an invitation to turn 2FA on."""
    try:
        report = invitations.invite_to_enable_2fa(page.ctx, page.origin, page.user_id, [user_id])
    except ServiceError as exc:
        problem = page.problem(exc)
        return _user_page(page, user_id, problem.status, problem.message)
    flash(page, "invited", n=len(report.invited), skipped=len(report.skipped))
    return page.redirect(f"/admin/users/{user_id}")


@router.post("/users/{user_id}/unlock", response_class=HTMLResponse)
def unlock(page: AdminPage, user_id: int) -> Response:
    try:
        admin.unlock_user(page.ctx, page.origin, page.user_id, user_id)
    except ServiceError as exc:
        problem = page.problem(exc)
        return _user_page(page, user_id, problem.status, problem.message)
    flash(page, "user_unlocked")
    return page.redirect(f"/admin/users/{user_id}")


@router.post("/users/{user_id}/password", response_class=HTMLResponse)
def set_password(
    page: AdminPage, user_id: int, confirm: ConfirmForm, password: Text = "",
    password2: Text = "",
) -> Response:
    """Set a user's password, confirmed with the admin's full step-up (a session left
    open must not be enough to take over another account)."""
    if password != password2:
        error = _("The two new passwords are not the same.", page)
        return _user_page(page, user_id, 400, error)
    own = page.view.id_hash

    def run(step_up_at: datetime | None) -> None:
        users.set_password(page.ctx, page.origin, page.user_id, user_id, password,
                           step_up_at=step_up_at, keep_session=own)
        if user_id == page.user_id:
            # Their own account: this browser stays in, under a new session id.
            page.session.rotate("full", user_id)

    return _confirmed_user_action(page, user_id, confirm, N_("Set a new password"),
                                  {"password": password, "password2": password2}, run,
                                  "password_set")


def _(message: str, page: Page) -> str:
    with i18n.use_locale(page.locale):
        return i18n.gettext(message)


def _policy_lines(page: Page, fields: dict[str, str]) -> tuple[str, ...]:
    yes, no = _("yes", page), _("no", page)

    def flag(name: str) -> str:
        return yes if fields[name] == "yes" else no

    return (
        _("Two-factor authentication required for everyone: %(v)s", page) % {
            "v": flag("require_all")},
        _("Two-factor authentication required for administrators: %(v)s", page) % {
            "v": flag("require_admins")},
        _("Signing in with a passkey alone: %(v)s", page) % {"v": flag("passwordless")},
        _("Issuer name: %(v)s", page) % {"v": fields["issuer"]},
    )


@router.post("/users/{user_id}/deactivate", response_class=HTMLResponse)
def deactivate(page: AdminPage, user_id: int, confirm: ConfirmForm) -> Response:
    def run(step_up_at: datetime | None) -> None:
        users.deactivate_user(page.ctx, page.origin, page.user_id, user_id,
                              step_up_at=step_up_at)

    return _confirmed_user_action(page, user_id, confirm, N_("Deactivate the account"), {},
                                  run, "user_deactivated")


@router.post("/users/{user_id}/reactivate", response_class=HTMLResponse)
def reactivate(page: AdminPage, user_id: int, confirm: ConfirmForm) -> Response:
    def run(step_up_at: datetime | None) -> None:
        admin_rights.reactivate_user(page.ctx, page.origin, page.user_id, user_id,
                                     step_up_at=step_up_at)

    return _confirmed_user_action(page, user_id, confirm, N_("Enable the account again"), {},
                                  run, "user_reactivated")


@router.post("/users/{user_id}/admin", response_class=HTMLResponse)
def admin_rights_submit(
    page: AdminPage, user_id: int, confirm: ConfirmForm, rights: Text = ""
) -> Response:
    """Give (``rights=grant``) or take away (``revoke``) administrator rights."""
    if rights not in ("grant", "revoke"):
        return _user_page(page, user_id, 400, _("The form contains an invalid value.", page))
    grant = rights == "grant"

    def run(step_up_at: datetime | None) -> None:
        admin_rights.set_admin(page.ctx, page.origin, page.user_id, user_id, grant,
                               step_up_at=step_up_at)

    what = N_("Make this account an administrator") if grant else N_(
        "Take away administrator rights")
    return _confirmed_user_action(page, user_id, confirm, what, {"rights": rights}, run,
                                  "admin_granted" if grant else "admin_revoked")


def _when(text: str, field: str) -> datetime | None:
    """A ``datetime-local`` form value, read as UTC."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text[:40])
    except ValueError:
        raise InvalidInput(f"{field}: use the form YYYY-MM-DDTHH:MM.") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _filters(user: str, kind: str, since: str, until: str) -> dict[str, object]:
    return {
        "username": user.strip() or None,
        "kind": kind or None,
        "since": _when(since, "since"),
        "until": _when(until, "until"),
    }


@router.get("/audit", response_class=HTMLResponse)
def audit_log(
    page: AdminPage, *, user: str = "", kind: str = "", since: str = "", until: str = "",
    offset: int = 0,
) -> HTMLResponse:
    form = {"user": user, "kind": kind, "since": since, "until": until}
    shown: dict[str, Any] = {"form": form, "kinds": [str(k) for k in AuditKind], "offset": offset,
             "page_size": _PAGE_SIZE}
    try:
        events = audit.query_audit(
            page.ctx, **_filters(user, kind, since, until),  # type: ignore[arg-type]
            limit=_PAGE_SIZE, offset=max(0, offset),
        )
    except ServiceError as exc:
        return page.render_problem("admin/audit.html", exc, events=[], **shown)
    return page.render("admin/audit.html", events=events, **shown)


@router.get("/audit.jsonl")
def audit_export(
    page: AdminPage, user: str = "", kind: str = "", since: str = "", until: str = ""
) -> StreamingResponse:
    filters = _filters(user, kind, since, until)
    lines = audit.export_audit_jsonl(page.ctx, **filters)  # type: ignore[arg-type]
    # Fail before the first byte on bad filters, so the error is a page, not a cut stream.
    first = next(lines, "")

    def body() -> Iterator[str]:
        yield first
        yield from lines

    stamp = page.now().strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        body(),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="otpgate-audit-{stamp}.jsonl"'},
    )


@router.get("/policy", response_class=HTMLResponse)
def policy_form(page: AdminPage) -> HTMLResponse:
    return page.render("admin/policy.html", policy=admin.get_policy(page.ctx),
                       notice=take_flash(page))


@router.post("/policy", response_class=HTMLResponse)
def policy_submit(
    page: AdminPage, confirm: ConfirmForm, *, require_all: Text = "", require_admins: Text = "",
    issuer: Text = "", passwordless: Text = "",
) -> Response:
    fields = {"require_all": require_all, "require_admins": require_admins, "issuer": issuer,
              "passwordless": passwordless}
    ask = Confirmation(
        _("Change the policy", page), _("Every account", page), "/admin/policy",
        "/admin/policy", fields, _policy_lines(page, fields),
    )

    def run(step_up_at: datetime | None) -> object:
        return admin.set_policy(
            page.ctx, page.origin, page.user_id,
            require_all=require_all == "yes", require_admins=require_admins == "yes",
            issuer=issuer, passwordless=passwordless == "yes", step_up_at=step_up_at,
        )

    try:
        outcome = run_confirmed(page, ask, confirm, run)
    except ServiceError as exc:
        return page.render_problem("admin/policy.html", exc, policy=admin.get_policy(page.ctx))
    if isinstance(outcome, Response):
        return outcome
    flash(page, "policy_saved")
    return page.redirect("/admin/policy")
