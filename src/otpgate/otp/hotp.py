"""HOTP: counter-based one-time codes (RFC 4226).

:class:`Hotp` is a strict primitive: it computes and checks codes, it keeps no state.
Remembering the last accepted counter (so a code is never accepted twice) and
throttling failed attempts are the caller's job.
"""

from __future__ import annotations

from otpgate.otp._core import OtpBase, code_value
from otpgate.otp._params import MAX_WINDOW, Algorithm, check_counter, check_window
from otpgate.otp.codes import clean_code

__all__ = ["Hotp"]


class Hotp(OtpBase):
    """An HOTP generator/verifier for one key.

    ``key`` is the raw secret (at least 128 bits unless ``allow_short_key``);
    ``digits`` is 6 to 10; ``algorithm`` one of ``"SHA1"``, ``"SHA256"``, ``"SHA512"``.
    The key is never shown by ``repr`` and cannot be read back.
    """

    __slots__ = ()

    def __init__(
        self,
        key: bytes,
        *,
        digits: int = 6,
        algorithm: Algorithm = "SHA1",
        allow_short_key: bool = False,
    ) -> None:
        super().__init__(key, digits=digits, algorithm=algorithm, allow_short_key=allow_short_key)

    def __repr__(self) -> str:
        return f"Hotp(key=<hidden>, digits={self._digits}, algorithm={self._algorithm!r})"

    def generate(self, counter: int) -> str:
        """The code for ``counter`` (0 to 2**64 - 1)."""
        return self._code(check_counter(counter))

    def match(self, code: str, counter: int, *, look_ahead: int = 0) -> int | None:
        """The counter in ``counter … counter + look_ahead`` whose code is ``code``, or None.

        ``code`` is normalised first (:func:`~otpgate.otp.normalise_code`); a malformed
        code raises :class:`~otpgate.otp.MalformedCode` before any HMAC. The next
        expected counter is the returned value + 1.
        """
        target = code_value(clean_code(code, self._digits))
        if not (type(counter) is int and type(look_ahead) is int and 0 <= look_ahead <= MAX_WINDOW):
            check_window(look_ahead, "look_ahead")
        first = check_counter(counter)
        return self._match_range(target, first, first + look_ahead)
