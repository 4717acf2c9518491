"""Secrets: generation, base32 without padding, tolerant-but-strict decoding, display groups."""

from __future__ import annotations

import base64

import pytest

from otpgate.otp import InvalidParameter, InvalidSecret, b32decode, b32encode, grouped, new_secret


def test_new_secret_defaults_to_160_bits() -> None:
    """A new secret has 20 random bytes by default, and differs each time."""
    first, second = new_secret(), new_secret()
    assert len(first) == 20
    assert first != second


@pytest.mark.parametrize("nbytes", [16, 32, 64])
def test_new_secret_sizes(nbytes: int) -> None:
    """Other sizes from 16 bytes up can be asked for."""
    assert len(new_secret(nbytes)) == nbytes


@pytest.mark.parametrize("nbytes", [0, 10, 15, 1025, True, 20.0])
def test_new_secret_refuses_bad_sizes(nbytes: object) -> None:
    """Fewer than 128 bits (or a non-int size) is refused."""
    with pytest.raises(InvalidParameter):
        new_secret(nbytes)  # type: ignore[arg-type]


@pytest.mark.parametrize("nbytes", [16, 17, 18, 19, 20, 32, 64])
def test_b32encode_has_no_padding(nbytes: int) -> None:
    """Encoding is upper-case RFC 4648 base32 with the '=' padding removed."""
    key = bytes(range(nbytes))
    text = b32encode(key)
    assert "=" not in text
    assert text == base64.b32encode(key).decode().rstrip("=")
    assert b32decode(text) == key


@pytest.mark.parametrize(
    "typed",
    [
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
        "gezdgnbvgy3tqojqgezdgnbvgy3tqojq",
        "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ",
        "gezd-gnbv-gy3t-qojq-gezd-gnbv-gy3t-qojq",
        " GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ ",
    ],
)
def test_b32decode_tolerates_typing(typed: str) -> None:
    """Lowercase, spaces and dashes are accepted."""
    assert b32decode(typed) == b"12345678901234567890"


def test_b32decode_padding_optional() -> None:
    """A 128-bit key decodes with or without its '=' padding."""
    key = bytes(range(16))
    padded = base64.b32encode(key).decode()
    assert padded.endswith("======")
    assert b32decode(padded) == b32decode(padded.rstrip("=")) == key


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ0", "not base32"),  # 0 is not in the alphabet
        ("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ1", "not base32"),
        ("GEZDGNBVGY3TQOJQ_GEZDGNBVGY3TQOJQ", "not base32"),
        ("GEZDGNBVGY3TQOJQ\nGEZDGNBVGY3TQOJQ", "not base32"),
        ("GEZDGNBVGY3TQOJQ=GEZDGNBVGY3TQOJQ", "not base32"),
        ("\u0130EZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", "not base32"),  # dotted capital I
        ("\uff27EZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", "not base32"),  # fullwidth G
        ("", "empty"),
        ("   ", "empty"),
        ("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQA", "33 base32 characters"),
        ("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQO", "30 base32 characters"),
        ("JBSWY3DPEHPK3PXP", "80 bits"),
        ("A" * 5000, "too long"),
    ],
)
def test_b32decode_refusals(text: str, message: str) -> None:
    """Other characters, impossible lengths, empty, short and huge secrets are refused."""
    with pytest.raises(InvalidSecret, match=message):
        b32decode(text)


def test_b32decode_short_allowed_on_request() -> None:
    """An 80-bit legacy secret decodes with allow_short=True."""
    assert b32decode("JBSWY3DPEHPK3PXP", allow_short=True) == b"Hello!\xde\xad\xbe\xef"


@pytest.mark.parametrize("value", [None, b"GEZDGNBV", 12])
def test_b32decode_refuses_non_text(value: object) -> None:
    """Only str is decoded."""
    with pytest.raises(InvalidSecret, match="must be text"):
        b32decode(value)  # type: ignore[arg-type]


def test_b32encode_refuses_non_bytes() -> None:
    """Only bytes are encoded."""
    with pytest.raises(InvalidSecret):
        b32encode("secret")  # type: ignore[arg-type]


def test_grouped() -> None:
    """The display form has groups of four separated by single spaces."""
    assert grouped("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ") == (
        "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ"
    )
    assert grouped("ABCDEFGHIJ") == "ABCD EFGH IJ"
    assert grouped("ABCD EFGH IJ") == "ABCD EFGH IJ"
    assert b32decode(grouped(b32encode(bytes(20)))) == bytes(20)
