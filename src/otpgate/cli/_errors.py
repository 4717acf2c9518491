"""Exit codes of the command line, and the mapping from lower layers' errors to them.

0 ok · 1 refused (wrong code, wrong password, locked) · 2 bad usage or bad input ·
3 not found · 4 conflict (already exists, already enrolled) · 5 configuration or
database unavailable.
"""

from __future__ import annotations

__all__ = ["EXIT_BAD_INPUT", "EXIT_CONFIG", "EXIT_CONFLICT", "EXIT_NOT_FOUND", "EXIT_REFUSED",
           "CliError", "exit_code_for"]

EXIT_REFUSED = 1
EXIT_BAD_INPUT = 2
EXIT_NOT_FOUND = 3
EXIT_CONFLICT = 4
EXIT_CONFIG = 5


class CliError(Exception):
    """A one-line message for the user and the exit code that goes with it."""

    def __init__(self, message: str, exit_code: int = EXIT_BAD_INPUT) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def exit_code_for(exc: BaseException) -> int | None:
    """The exit code for an error of a lower layer, or None if it is a bug (re-raised).

    Lower layers' error classes are looked up by their module so that this module
    imports none of them (``otpgate code`` must not load the database layer).
    """
    for cls in type(exc).__mro__:
        code = _BY_CLASS.get(f"{cls.__module__}.{cls.__qualname__}")
        if code is not None:
            return code
    return None


_BY_CLASS: dict[str, int] = {
    "otpgate.config.ConfigError": EXIT_CONFIG,
    "otpgate.otp.errors.OtpError": EXIT_BAD_INPUT,
    "otpgate.security.errors.SecurityError": EXIT_CONFIG,
    "otpgate.security.errors.WeakPassword": EXIT_BAD_INPUT,
    "otpgate.security.errors.MalformedToken": EXIT_BAD_INPUT,
    "otpgate.store.errors.NotFound": EXIT_NOT_FOUND,
    "otpgate.store.errors.Conflict": EXIT_CONFLICT,
    "otpgate.store.errors.StoreError": EXIT_CONFIG,
    "otpgate.service.errors.NotFound": EXIT_NOT_FOUND,
    "otpgate.service.errors.Conflict": EXIT_CONFLICT,
    "otpgate.service.errors.InvalidInput": EXIT_BAD_INPUT,
    "otpgate.service.errors.KeyUnavailable": EXIT_CONFIG,
    "otpgate.service.errors.MailNotConfigured": EXIT_CONFIG,
    "otpgate.service.errors.ServiceError": EXIT_REFUSED,
}
