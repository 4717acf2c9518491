"""Signing in with a passkey: "Use your passkey" at the second step, and passwordless
sign-in from the login page when the admin policy allows it.

Same two requests as the security pages (:mod:`otpgate.web.pages.passkeys`): the options,
then the form with the browser's answer. Rules live in :mod:`otpgate.service.passkey_login`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form
from fastapi.responses import HTMLResponse, Response

from otpgate.service import passkey_login
from otpgate.service.errors import ServiceError
from otpgate.web import forward_auth
from otpgate.web.deps import Page, anonymous_page, csrf_guard, half_page
from otpgate.web.pages import factors
from otpgate.web.pages.auth import finish_login, two_factor_page
from otpgate.web.pages.passkeys import Answer, ceremony_options

__all__ = ["router"]

router = APIRouter(dependencies=[Depends(csrf_guard)], include_in_schema=False)

HalfPage = Annotated[Page, Depends(half_page)]
AnonymousPage = Annotated[Page, Depends(anonymous_page)]
Flag = Annotated[str, Form(max_length=10)]


@router.post("/login/passkey/options")
def second_step_options(page: HalfPage) -> Response:
    return ceremony_options(
        page,
        lambda: passkey_login.second_step_options(page.ctx, page.user_id, page.view.id_hash),
        "/login/2fa",
    )


@router.post("/login/passkey", response_class=HTMLResponse)
def second_step(page: HalfPage, credential: Answer = "", trust: Flag = "") -> Response:
    try:
        factor = passkey_login.verify_passkey(
            page.ctx, page.origin, page.user_id, page.view.id_hash, credential
        )
    except ServiceError as exc:
        problem = page.problem(exc)
        return two_factor_page(page, problem.status, problem.message)
    done = finish_login(page, trust == "yes")
    factors.warn_if_few_recovery_codes(page, factor)
    return done


@router.post("/login/passwordless/options")
def passwordless_options(page: AnonymousPage) -> Response:
    return ceremony_options(
        page, lambda: passkey_login.passwordless_options(page.ctx, page.view.id_hash), "/login"
    )


@router.post("/login/passwordless", response_class=HTMLResponse)
def passwordless(page: AnonymousPage, credential: Answer = "") -> Response:
    try:
        signed_in = passkey_login.passkey_sign_in(
            page.ctx, page.origin, page.view.id_hash, credential
        )
    except ServiceError as exc:
        return page.render_problem("login.html", exc, **factors.passwordless_offer(page))
    # The key proved possession and the user's PIN or biometrics: both factors at once.
    page.session.rotate("full", signed_in.user.id)
    response = page.redirect(forward_auth.take_return_url(page))
    factors.warn_if_few_recovery_codes(page, signed_in.factor)
    return response
