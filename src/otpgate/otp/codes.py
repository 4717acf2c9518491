"""Canonical form of a code typed by a user.

The rule is deliberately narrow: spaces are removed (apps show ``123 456``), then exactly
``digits`` ASCII digits must remain. Anything else — other Unicode digits that
``str.isdigit()`` accepts (``"١٢٣٤٥٦"``), letters, other lengths, ``None``, bytes, huge
strings — is refused with :class:`MalformedCode` before any HMAC is computed.
"""

from __future__ import annotations

from typing import Final

from otpgate.otp._params import check_digits
from otpgate.otp.errors import MalformedCode

__all__ = ["MAX_CODE_INPUT", "normalise_code"]

# Longer input is refused before it is even scanned: a code with spaces is ~12 characters.
MAX_CODE_INPUT: Final = 64


def normalise_code(code: object, digits: int) -> bytes:
    """The code as ASCII digit bytes of length ``digits``, or MalformedCode.

    >>> normalise_code("123 456", 6)
    b'123456'
    """
    return clean_code(code, check_digits(digits)).encode()  # ASCII digits: UTF-8 = ASCII


def clean_code(code: object, digits: int) -> str:
    """The validated code as a str of ASCII digits (hot path: ``digits`` already checked)."""
    if type(code) is not str or len(code) > MAX_CODE_INPUT:
        raise _refusal(code, digits)
    if " " in code:
        code = code.replace(" ", "")
    # isascii() first: str.isdigit() alone also accepts Arabic-Indic, superscript... digits.
    if len(code) != digits or not code.isascii() or not code.isdigit():
        raise _refusal(code, digits)
    return code


def _refusal(code: object, digits: int) -> MalformedCode:
    """The precise error for a refused code (slow path; never quotes the code)."""
    if not isinstance(code, str):
        return MalformedCode(f"the code must be text, not {type(code).__name__}")
    if len(code) > MAX_CODE_INPUT:
        return MalformedCode(f"the code is too long: expected {digits} digits")
    if not code:
        return MalformedCode(f"the code is empty: expected {digits} digits")
    if not (code.isascii() and code.isdigit()):
        return MalformedCode("the code may contain only the digits 0-9 and spaces")
    return MalformedCode(f"the code has {len(code)} digits, expected {digits}")
