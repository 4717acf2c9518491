"""Home page: who you are and whether your account is protected."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse

from otpgate.service import admin, recovery
from otpgate.web.deps import Page, csrf_guard, full_page
from otpgate.web.flash import take_flash

__all__ = ["router"]

router = APIRouter(dependencies=[Depends(csrf_guard)], include_in_schema=False)

FullPage = Annotated[Page, Depends(full_page)]


@router.get("/", response_class=HTMLResponse)
def home(page: FullPage) -> HTMLResponse:
    user = page.user
    assert user is not None  # full_page guarantees a user
    policy = admin.get_policy(page.ctx)
    # Display only: whether the login enforces 2FA is decided by the service.
    required = policy.require_all or (policy.require_admins and user.is_admin)
    codes_left = recovery.recovery_codes_left(page.ctx, user.id) if user.has_2fa else None
    return page.render(
        "home.html",
        notice=take_flash(page),
        policy_banner=required and not user.has_2fa,
        codes_left=codes_left,
    )
