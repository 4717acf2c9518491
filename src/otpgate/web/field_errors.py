"""A refused proof (the password, or a code) shown under the field it is about.

The field points to its message (``aria-invalid`` and ``aria-describedby``, see the
``invalid`` and ``error_under`` macros of ``_forms.html``), so a screen reader and a
phone user find the reason where they type the answer again.
"""

from __future__ import annotations

from typing import Any

from otpgate.service.errors import AuthenticationFailed, CodeRejected, ServiceError
from otpgate.web.deps import Page
from otpgate.web.i18n import N_

__all__ = ["field_problem", "is_field_problem"]


def is_field_problem(exc: ServiceError) -> bool:
    """Whether ``exc`` is about one field of the form (the password or the code)."""
    return isinstance(exc, AuthenticationFailed | CodeRejected)


def field_problem(page: Page, exc: ServiceError, field: str) -> dict[str, Any]:
    """Template values that put the error's message next to its field, or next to
    ``field`` on top of the page when the error is about no single field."""
    problem = page.problem(exc)
    if isinstance(exc, AuthenticationFailed):
        return {"status": 401, "field_error": page.translate(N_("Your password is not correct.")),
                "error_field": "password"}
    if isinstance(exc, CodeRejected):
        return {"status": problem.status, "field_error": problem.message, "error_field": "code"}
    return {"status": problem.status, "error": problem.message, "error_field": field}
