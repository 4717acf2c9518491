"""Profile → Security → passkeys: add (after a step-up), rename, remove.

Each ceremony is two requests: ``…/options`` answers the JSON options for
``navigator.credentials`` (the challenge stays in the server-side session), then the page's
form posts the browser's answer (``static/passkeys.js`` fills its ``credential`` field).
The rules are the service's (:mod:`otpgate.service.passkeys`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form
from fastapi.responses import HTMLResponse, JSONResponse, Response

from otpgate.service import enrolment, passkey_removal, passkeys
from otpgate.service.errors import ServiceError, StepUpRequired
from otpgate.service.views import PasskeyView
from otpgate.web.deps import Page, csrf_guard, full_page
from otpgate.web.flash import flash
from otpgate.web.pages.security import after_switch_off, codes_page, step_up_redirect

__all__ = ["Answer", "ceremony_options", "router"]

router = APIRouter(dependencies=[Depends(csrf_guard)], include_in_schema=False)

FullPage = Annotated[Page, Depends(full_page)]
Text = Annotated[str, Form(max_length=2000)]
# The browser's answer, PublicKeyCredential.toJSON() as text.
Answer = Annotated[str, Form(max_length=16_000)]
_ADD = "/security/passkeys/add"


def ceremony_options(page: Page, make: Callable[[], str], back: str) -> Response:
    """The options JSON for the page's script, or ``{"error", "redirect"?}`` with a status."""
    try:
        return Response(make(), media_type="application/json")
    except StepUpRequired as exc:
        problem = page.problem(exc)
        target = f"/security/step-up?next={quote(back, safe='/')}"
        return JSONResponse({"error": problem.message, "redirect": target}, problem.status)
    except ServiceError as exc:
        problem = page.problem(exc)
        return JSONResponse({"error": problem.message}, problem.status)


def _key_of(page: Page, passkey_id: int) -> PasskeyView | None:
    return next((k for k in passkeys.list_passkeys(page.ctx, page.user_id) if k.id == passkey_id),
                None)


@router.get(_ADD, response_class=HTMLResponse)
def add_form(page: FullPage) -> Response:
    try:
        passkeys.require_step_up(page.ctx, page.view.step_up_at)
    except StepUpRequired:
        return step_up_redirect(page, _ADD)
    except ServiceError as exc:
        return page.render_problem("passkey_add.html", exc, name="")
    return page.render("passkey_add.html", name="")


@router.post(_ADD + "/options")
def add_options(page: FullPage) -> Response:
    return ceremony_options(
        page,
        lambda: passkeys.registration_options(
            page.ctx, page.user_id, page.view.id_hash, step_up_at=page.view.step_up_at
        ),
        _ADD,
    )


@router.post(_ADD, response_class=HTMLResponse)
def add_submit(page: FullPage, name: Text = "", credential: Answer = "") -> Response:
    try:
        codes = passkeys.register_passkey(
            page.ctx, page.origin, page.user_id, page.view.id_hash, credential, name,
            step_up_at=page.view.step_up_at,
        )
    except StepUpRequired:
        return step_up_redirect(page, _ADD)
    except ServiceError as exc:
        return page.render_problem("passkey_add.html", exc, name=name)
    if codes:
        return codes_page(page, codes, first=True)
    flash(page, "passkey_added")
    return page.redirect("/security")


@router.get("/security/passkeys/{passkey_id}/rename", response_class=HTMLResponse)
def rename_form(page: FullPage, passkey_id: int) -> Response:
    key = _key_of(page, passkey_id)
    if key is None:
        return page.redirect("/security")
    return page.render("passkey_rename.html", key=key, name=key.name)


@router.post("/security/passkeys/{passkey_id}/rename", response_class=HTMLResponse)
def rename_submit(page: FullPage, passkey_id: int, name: Text = "") -> Response:
    try:
        passkeys.rename_passkey(page.ctx, page.origin, page.user_id, passkey_id, name)
    except ServiceError as exc:
        return page.render_problem("passkey_rename.html", exc, key=_key_of(page, passkey_id),
                                   name=name)
    flash(page, "passkey_renamed")
    return page.redirect("/security")


def _remove_page(page: FullPage, passkey_id: int, exc: ServiceError | None = None) -> Response:
    key = _key_of(page, passkey_id)
    if key is None:
        return page.redirect("/security")
    keys = passkeys.list_passkeys(page.ctx, page.user_id)
    values: dict[str, Any] = {
        "key": key,
        "has_codes": bool(enrolment.list_credentials(page.ctx, page.user_id)),
        "other_keys": len(keys) > 1,
    }
    if exc is not None:
        return page.render_problem("passkey_remove.html", exc, **values)
    return page.render("passkey_remove.html", **values)


@router.get("/security/passkeys/{passkey_id}/remove", response_class=HTMLResponse)
def remove_form(page: FullPage, passkey_id: int) -> Response:
    return _remove_page(page, passkey_id)


@router.post("/security/passkeys/{passkey_id}/remove/options")
def remove_options(page: FullPage, passkey_id: int) -> Response:
    return ceremony_options(
        page,
        lambda: passkey_removal.removal_options(
            page.ctx, page.user_id, page.view.id_hash, passkey_id,
            step_up_at=page.view.step_up_at,
        ),
        f"/security/passkeys/{passkey_id}/remove",
    )


@router.post("/security/passkeys/{passkey_id}/remove", response_class=HTMLResponse)
def remove_submit(
    page: FullPage, passkey_id: int, code: Text = "", password: Text = "", credential: Answer = ""
) -> Response:
    try:
        passkey_removal.remove_passkey(
            page.ctx, page.origin, page.user_id, page.view.id_hash, passkey_id,
            step_up_at=page.view.step_up_at, code=code or None,
            response=credential or None, password=password or None,
        )
    except StepUpRequired:
        return step_up_redirect(page, f"/security/passkeys/{passkey_id}/remove")
    except ServiceError as exc:
        return _remove_page(page, passkey_id, exc)
    flash(page, "passkey_removed")
    return after_switch_off(page, "/security")
