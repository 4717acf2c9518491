"""Normalisation of typed codes: spaces go, exactly N ASCII digits stay, all else is refused."""

from __future__ import annotations

import pytest

from otpgate.otp import InvalidParameter, MalformedCode, OtpError, Totp, normalise_code

KEY = b"12345678901234567890"


@pytest.mark.parametrize(
    ("typed", "digits", "expected"),
    [
        ("123456", 6, b"123456"),
        ("123 456", 6, b"123456"),
        (" 1 2 3 4 5 6 ", 6, b"123456"),
        ("000000", 6, b"000000"),
        ("9428 7082", 8, b"94287082"),
        ("0123456789", 10, b"0123456789"),
    ],
)
def test_accepted_forms(typed: str, digits: int, expected: bytes) -> None:
    """Spaces anywhere are removed and the digits come back as ASCII bytes."""
    assert normalise_code(typed, digits) == expected


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("\u0661\u0662\u0663\u0664\u0665\u0666", "only the digits 0-9"),  # Arabic-Indic
        ("\uff11\uff12\uff13\uff14\uff15\uff16", "only the digits 0-9"),  # fullwidth
        ("12345\u00b2", "only the digits 0-9"),  # superscript two: isdigit() is True
        ("12a456", "only the digits 0-9"),
        ("12-456", "only the digits 0-9"),
        ("123\t456", "only the digits 0-9"),
        ("+12345", "only the digits 0-9"),
        ("12345", "has 5 digits, expected 6"),
        ("1234567", "has 7 digits, expected 6"),
        ("", "empty"),
        ("      ", "empty"),
        ("1" * 65, "too long"),
        ("1" * 10_000_000, "too long"),
    ],
)
def test_refused_strings(typed: str, message: str) -> None:
    """Each malformed string gets a MalformedCode that says what is wrong."""
    with pytest.raises(MalformedCode, match=message):
        normalise_code(typed, 6)


@pytest.mark.parametrize("value", [None, 123456, b"123456", 123456.0, ["123456"]])
def test_refused_types(value: object) -> None:
    """Anything but a str is refused, including the right digits as int or bytes."""
    with pytest.raises(MalformedCode, match="must be text"):
        normalise_code(value, 6)


def test_error_never_quotes_the_code() -> None:
    """A refused code does not appear in the message (it may be a near-miss of a real one)."""
    with pytest.raises(MalformedCode) as info:
        normalise_code("98765", 6)
    assert "98765" not in str(info.value)


def test_malformed_code_is_a_value_error() -> None:
    """MalformedCode is both the layer's root error and a ValueError."""
    assert issubclass(MalformedCode, OtpError)
    assert issubclass(MalformedCode, ValueError)


@pytest.mark.parametrize("digits", [5, 11, 0, True, "6", None])
def test_digits_are_validated(digits: object) -> None:
    """normalise_code refuses a digits argument outside 6..10."""
    with pytest.raises(InvalidParameter):
        normalise_code("123456", digits)  # type: ignore[arg-type]


ARABIC_INDIC_94287082 = "\u0669\u0664\u0662\u0668\u0667\u0660\u0668\u0662"


@pytest.mark.parametrize("typed", [ARABIC_INDIC_94287082, "9428708", None])
def test_match_refuses_before_hmac(typed: object) -> None:
    """Totp.match raises MalformedCode instead of returning None for unusable input."""
    totp = Totp(KEY, digits=8)
    with pytest.raises(MalformedCode):
        totp.match(typed, 59)  # type: ignore[arg-type]
