"""TOTP: time-based one-time codes (RFC 6238).

Time is always an argument (Unix seconds); there is no clock in this module. Like
:class:`~otpgate.otp.Hotp`, :class:`Totp` keeps no state: refusing a step that was
already used, tracking drift and throttling belong to the caller, which gets the
matched step from :meth:`Totp.match` for exactly that purpose.
"""

from __future__ import annotations

from otpgate.otp._core import OtpBase, code_value
from otpgate.otp._params import (
    MAX_COUNTER,
    MAX_WINDOW,
    Algorithm,
    check_counter,
    check_period,
    check_t0,
    check_window,
)
from otpgate.otp.codes import clean_code
from otpgate.otp.errors import InvalidParameter

__all__ = ["Totp"]


class Totp(OtpBase):
    """A TOTP generator/verifier for one key.

    ``period`` is the time step in seconds (>= 1) and ``t0`` the Unix time of step 0.
    The other parameters are those of :class:`~otpgate.otp.Hotp`.
    """

    __slots__ = ("_period", "_t0")

    def __init__(
        self,
        key: bytes,
        *,
        digits: int = 6,
        algorithm: Algorithm = "SHA1",
        period: int = 30,
        t0: int = 0,
        allow_short_key: bool = False,
    ) -> None:
        super().__init__(key, digits=digits, algorithm=algorithm, allow_short_key=allow_short_key)
        self._period = check_period(period)
        self._t0 = check_t0(t0)

    def __repr__(self) -> str:
        return (
            f"Totp(key=<hidden>, digits={self._digits}, algorithm={self._algorithm!r}, "
            f"period={self._period}, t0={self._t0})"
        )

    @property
    def period(self) -> int:
        """Length of a time step in seconds."""
        return self._period

    @property
    def t0(self) -> int:
        """Unix time at which step 0 begins."""
        return self._t0

    def step(self, unix_time: float) -> int:
        """The time step containing ``unix_time``: ``floor((unix_time - t0) / period)``."""
        try:
            step = int((unix_time - self._t0) // self._period)
        except (TypeError, ValueError, OverflowError):  # not a number, NaN, infinity
            raise InvalidParameter(
                f"the time must be a finite number of Unix seconds, got {type(unix_time).__name__}"
            ) from None
        if step < 0:
            raise InvalidParameter("the time is before t0")
        return step

    def generate_at(self, unix_time: float) -> str:
        """The code valid at ``unix_time``."""
        step = self.step(unix_time)
        if step > MAX_COUNTER:
            raise InvalidParameter("the time is too far in the future")
        return self._code(step)

    def generate_step(self, step: int) -> str:
        """The code of time step ``step``."""
        return self._code(check_counter(step, "step"))

    def match(
        self, code: str, unix_time: float, *, behind: int = 1, ahead: int = 1
    ) -> int | None:
        """The time step whose code is ``code``, within ``behind``/``ahead`` steps, or None.

        Steps ``step(unix_time) - behind`` to ``step(unix_time) + ahead`` are all checked
        (never below step 0). A malformed code raises
        :class:`~otpgate.otp.MalformedCode` before any HMAC. The caller must refuse a
        step it already accepted (replay) and may record ``returned - step(unix_time)``
        as the authenticator's drift.
        """
        target = code_value(clean_code(code, self._digits))
        if not (
            type(behind) is int
            and type(ahead) is int
            and 0 <= behind <= MAX_WINDOW
            and 0 <= ahead <= MAX_WINDOW
        ):
            check_window(behind, "behind")
            check_window(ahead, "ahead")
        # step() inlined (a method call is a few % of a verification); its error path
        # is taken through step() itself, for the message.
        try:
            step = int((unix_time - self._t0) // self._period)
        except (TypeError, ValueError, OverflowError):
            step = -1
        if step < 0:
            step = self.step(unix_time)
        return self._match_range(target, step - behind if step > behind else 0, step + ahead)
