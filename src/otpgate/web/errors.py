"""Errors of the web layer, and the mapping of lower layers' errors to pages.

Every refusal becomes an HTTP status and one translated line; the English text of a
service error is never shown as is, so French pages stay French.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from otpgate.service import errors as svc
from otpgate.store import errors as store
from otpgate.web.i18n import DEFAULT_LOCALE, N_, current_locale, gettext, ngettext

__all__ = [
    "UNAVAILABLE_RETRY_AFTER",
    "CsrfRejected",
    "Problem",
    "Redirect",
    "WebError",
    "describe",
]

#: Seconds a client is asked to wait (``Retry-After``) while the database is unreachable:
#: long enough not to hammer a database that is restarting, short enough for a person.
UNAVAILABLE_RETRY_AFTER = 5


class WebError(Exception):
    """Root of the web layer's errors; never raised itself."""


class Redirect(WebError):
    """Stop handling the request and send the browser to ``url`` (303 See Other)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


class CsrfRejected(WebError):
    """A POST without the session's CSRF token."""


@dataclass(frozen=True)
class Problem:
    status: int
    message: str
    retry_after: int | None = None


_CODE_MESSAGES = {
    svc.RejectReason.WRONG: N_("That code is not valid. Check your authenticator and try again."),
    svc.RejectReason.REPLAYED: N_(
        "This code was already used. Wait for the next code and try again."
    ),
    svc.RejectReason.MALFORMED: N_("Enter the digits shown by your authenticator app."),
}

# The recovery-code page takes single-use codes: "wait for the next code" makes no sense there.
_SINGLE_USE_MESSAGES = {
    svc.RejectReason.WRONG: N_("That recovery code is not valid."),
    svc.RejectReason.REPLAYED: N_("This recovery code was already used."),
    svc.RejectReason.MALFORMED: N_("Enter a recovery code, such as abcd-efgh-ijkm."),
}

_PASSKEY_PROBLEMS = {
    svc.PasskeyReason.INVALID: (401, N_("Your passkey's answer could not be verified. Try again.")),
    svc.PasskeyReason.UNKNOWN: (401, N_("This passkey is not registered for this account.")),
    svc.PasskeyReason.CLONED: (401, N_(
        "This passkey was refused: its signature counter went back, so it may have been "
        "copied. Sign in another way and remove it."
    )),
    svc.PasskeyReason.EXPIRED: (409, N_("The passkey request has expired. Try again.")),
    svc.PasskeyReason.NOT_ALLOWED: (403, N_("Passkeys cannot be used for this here.")),
}

_OWN_CODE = N_(
    "This code comes from the authenticator you are removing. Enter a code from another "
    "of your authenticators, to show you can still log in without this one."
)

_APP_IGNORED = N_(
    "Your authenticator app ignored the settings (%(wanted)s) and shows standard codes. "
    "Use an app reported to honour them, such as Aegis, 2FAS or FreeOTP, and scan the QR "
    "code again."
)

# Checked in order: subclasses before their parents.
_BY_CLASS: tuple[tuple[type[BaseException], int, str], ...] = (
    (svc.AuthenticationFailed, 401, N_("Invalid username or password.")),
    (svc.AccountDisabled, 403, N_("This account is disabled.")),
    (svc.StepUpRequired, 403, N_("Confirm your password to continue.")),
    (svc.NotEnrolled, 409, N_("Two-factor authentication is not enabled.")),
    (svc.AlreadyEnrolled, 409, N_("This authenticator is already confirmed.")),
    (svc.EnrolmentExpired, 409, N_("This enrolment has expired; start again.")),
    (svc.LastAuthenticator, 403, N_(
        "This is your last authenticator: removing it turns two-factor authentication off. "
        "Confirm with your password and a current code."
    )),
    (svc.NotPermitted, 403, N_("You are not allowed to do this.")),
    (svc.NotFound, 404, N_("Not found.")),
    (svc.Conflict, 409, N_("This conflicts with existing data.")),
    (svc.InvalidInput, 400, N_("The form contains an invalid value.")),
    (CsrfRejected, 403, N_("The form has expired. Reload the page and try again.")),
    (store.NotFound, 404, N_("Not found.")),
    (store.Conflict, 409, N_("This conflicts with existing data.")),
    (store.DatabaseUnavailable, 503, N_("The service is unavailable. Try again shortly.")),
)


def describe(exc: BaseException, now: datetime, *, single_use: bool = False) -> Problem:
    """Status and translated one-line message for an error of any layer.

    Input errors keep their own (English) message when it says which field is wrong,
    after the translated general line, because it is more useful than silence.
    ``single_use`` words code errors for recovery and bypass codes.
    """
    if isinstance(exc, svc.CodeRejected):
        return _code_problem(exc, single_use)
    if isinstance(exc, svc.PasskeyRejected):
        status, message = _PASSKEY_PROBLEMS[exc.reason]
        return Problem(status, gettext(message))
    if isinstance(exc, svc.AppIgnoredSettings):
        return Problem(400, gettext(_APP_IGNORED) % {"wanted": exc.wanted})
    if isinstance(exc, svc.Locked):
        seconds = max(1, math.ceil((exc.until - now).total_seconds()))
        minutes = math.ceil(seconds / 60)
        text = ngettext(
            "Too many failed attempts. Try again in %(n)d minute.",
            "Too many failed attempts. Try again in %(n)d minutes.",
            minutes,
        ) % {"n": minutes}
        return Problem(423, text, retry_after=seconds)
    for cls, status, message in _BY_CLASS:
        if isinstance(exc, cls):
            retry = UNAVAILABLE_RETRY_AFTER if status == 503 else None
            return Problem(status, _with_detail(exc, gettext(message)), retry_after=retry)
    return Problem(500, gettext("Something went wrong. Try again later."))


def _code_problem(exc: svc.CodeRejected, single_use: bool) -> Problem:
    if isinstance(exc, svc.CodeFromRemovedAuthenticator):
        return Problem(401, gettext(_OWN_CODE))
    status = 400 if exc.reason is svc.RejectReason.MALFORMED else 401
    messages = _SINGLE_USE_MESSAGES if single_use else _CODE_MESSAGES
    return Problem(status, gettext(messages[exc.reason]))


def _with_detail(exc: BaseException, text: str) -> str:
    # Input errors say which value is wrong, in English: shown as is on English pages,
    # after the translated general line on others.
    if type(exc) not in (svc.InvalidInput, svc.Conflict) or not str(exc):
        return text
    if current_locale() == DEFAULT_LOCALE:
        return str(exc)
    return f"{text} ({exc})"
