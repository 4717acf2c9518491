"""Did the authenticator app honour the enrolment's parameters?

Many apps read only the secret of an ``otpauth://`` link and always compute SHA1, 6
digits, 30 s codes (Google Authenticator on Android and Microsoft Authenticator are
reported to). When the operator configured anything else, a confirming code that is
wrong for the configured parameters but right for the standard ones tells exactly
that, and the user can be told to pick another app instead of "wrong code".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from otpgate.otp.errors import OtpError
from otpgate.otp.hotp import Hotp
from otpgate.otp.totp import Totp
from otpgate.service.errors import AppIgnoredSettings

if TYPE_CHECKING:
    from otpgate.service.context import Context
    from otpgate.store.models import OtpCredential

__all__ = ["STANDARD", "check_app_honoured_settings", "describe_parameters", "is_standard"]

#: What every app computes: (algorithm, digits, period).
STANDARD = ("SHA1", 6, 30)


def is_standard(cred: OtpCredential) -> bool:
    """True when the credential uses the parameters every app honours."""
    period = STANDARD[2] if cred.kind == "hotp" else cred.period
    return (cred.algorithm, cred.digits, period) == STANDARD


def describe_parameters(cred: OtpCredential) -> str:
    """The non-default parameters in words, e.g. ``"SHA256, 8 digits, 60 s"``."""
    parts = [cred.algorithm, f"{cred.digits} digits"]
    if cred.kind == "totp":
        parts.append(f"{cred.period} s")
    return ", ".join(parts)


def _standard_match(
    ctx: Context, cred: OtpCredential, secret: bytes, code: str, now: float
) -> bool:
    try:
        if cred.kind == "hotp":
            hotp = Hotp(secret, allow_short_key=True)
            start = cred.last_step + 1
            return hotp.match(code, start, look_ahead=ctx.settings.hotp_look_ahead) is not None
        totp = Totp(secret, allow_short_key=True)
        window = ctx.settings.otp_window
        return totp.match(code, now, behind=window, ahead=window) is not None
    except OtpError:  # not six digits: cannot be a standard code
        return False


def check_app_honoured_settings(
    ctx: Context, cred: OtpCredential, secret: bytes, code: str, now: float
) -> None:
    """Call after ``code`` failed for ``cred``'s own parameters.

    Raises :class:`AppIgnoredSettings` when the credential has non-default parameters and
    ``code`` is the standard SHA1/6/30 code of the same secret; returns otherwise (the
    code is simply wrong).
    """
    if not is_standard(cred) and _standard_match(ctx, cred, secret, code, now):
        raise AppIgnoredSettings(describe_parameters(cred))
