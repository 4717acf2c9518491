"""Admin area: users (search, create, reset 2FA, unlock, deactivate), audit log, policy."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from otpgate.service import admin, audit, enrolment, invitations, login, users
from otpgate.service.audit import AuditKind
from otpgate.service.errors import (
    AccountDisabled,
    AuthenticationFailed,
    InvalidInput,
    ServiceError,
)
from otpgate.web import i18n
from otpgate.web.deps import Page, admin_page, csrf_guard
from otpgate.web.flash import flash, take_flash

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
) -> Response:
    values = {"username": username, "display_name": display_name, "email": email}
    try:
        created = users.create_user(
            page.ctx,
            page.origin,
            username,
            password,
            email=email,
            display_name=display_name,
            is_admin=is_admin == "yes",
            actor_id=page.user_id,
        )
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


@router.post("/users/{user_id}/reset-2fa", response_class=HTMLResponse)
def reset_2fa(
    page: AdminPage, user_id: int, note: Text = ""
) -> Response:
    try:
        admin.reset_2fa(page.ctx, page.origin, page.user_id, user_id, note)
    except ServiceError as exc:
        problem = page.problem(exc)
        return _user_page(page, user_id, problem.status, problem.message, note=note)
    flash(page, "twofa_reset")
    return page.redirect(f"/admin/users/{user_id}")


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
    page: AdminPage, user_id: int, password: Text = "", password2: Text = "",
    admin_password: Text = "",
) -> Response:
    """Set a user's password; the admin confirms with their own password first (a
    session left open must not be enough to take over another account)."""
    if password != password2:
        error = _("The two new passwords are not the same.", page)
        return _user_page(page, user_id, 400, error)
    lang = page.view.data.get("lang")
    try:
        page.session.record_step_up(
            login.verify_step_up(page.ctx, page.origin, page.user_id, admin_password)
        )
    except AuthenticationFailed:
        return _user_page(page, user_id, 401, _("Your password is not correct.", page))
    except ServiceError as exc:
        problem = page.problem(exc)
        return _user_page(page, user_id, problem.status, problem.message)
    try:
        users.set_password(page.ctx, page.origin, page.user_id, user_id, password)
    except ServiceError as exc:
        problem = page.problem(exc)
        return _user_page(page, user_id, problem.status, problem.message)
    if user_id == page.user_id:
        # Their own account: the service ended this session too; keep this browser in.
        page.session.rotate("full", user_id, step_up=True)
        if isinstance(lang, str):
            page.session.update(lang=lang)
    flash(page, "password_set")
    return page.redirect(f"/admin/users/{user_id}")


def _(message: str, page: Page) -> str:
    with i18n.use_locale(page.locale):
        return i18n.gettext(message)


@router.post("/users/{user_id}/deactivate", response_class=HTMLResponse)
def deactivate(page: AdminPage, user_id: int) -> Response:
    try:
        users.deactivate_user(page.ctx, page.origin, page.user_id, user_id)
    except ServiceError as exc:
        problem = page.problem(exc)
        return _user_page(page, user_id, problem.status, problem.message)
    flash(page, "user_deactivated")
    return page.redirect(f"/admin/users/{user_id}")


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
    page: AdminPage, require_all: Text = "", require_admins: Text = "", issuer: Text = ""
) -> Response:
    try:
        admin.set_policy(
            page.ctx, page.origin, page.user_id,
            require_all=require_all == "yes", require_admins=require_admins == "yes",
            issuer=issuer,
        )
    except ServiceError as exc:
        return page.render_problem("admin/policy.html", exc, policy=admin.get_policy(page.ctx))
    flash(page, "policy_saved")
    return page.redirect("/admin/policy")
