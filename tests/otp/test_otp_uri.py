"""otpauth:// URIs: the canonical form we write, and a strict parser with precise errors."""

from __future__ import annotations

from dataclasses import FrozenInstanceError

import pytest

from otpgate.otp import (
    Hotp,
    InvalidParameter,
    InvalidSecret,
    InvalidUri,
    OtpUri,
    Totp,
    build_uri,
    parse_uri,
)

KEY = b"12345678901234567890"
B32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


def test_build_omits_defaults() -> None:
    """SHA1, 6 digits and 30 s are not written; issuer is in the label and as a parameter."""
    uri = build_uri(KEY, account="alice@example.com", issuer="ACME Co")
    assert uri == (
        f"otpauth://totp/ACME%20Co:alice@example.com?secret={B32}&issuer=ACME%20Co"
    )


def test_build_writes_other_parameters() -> None:
    """Non-default parameters are written, the algorithm in upper case."""
    uri = build_uri(KEY, account="bob", algorithm="sha256", digits=8, period=60)  # type: ignore[arg-type]
    assert uri == f"otpauth://totp/bob?secret={B32}&algorithm=SHA256&digits=8&period=60"


def test_build_hotp() -> None:
    """An hotp URI carries its counter (0 when not given) and no period."""
    assert build_uri(KEY, account="bob", kind="hotp", period=60) == (
        f"otpauth://hotp/bob?secret={B32}&counter=0"
    )
    assert build_uri(KEY, account="bob", kind="hotp", counter=42).endswith("&counter=42")


@pytest.mark.parametrize("nbytes", [16, 17, 19, 20, 32])
def test_build_has_no_padding(nbytes: int) -> None:
    """The secret is written without '=' whatever its length."""
    assert "=" not in build_uri(bytes(nbytes), account="a").split("secret=")[1]


@pytest.mark.parametrize(
    ("account", "encoded"),
    [
        ("bob+tag@example.com", "bob%2Btag@example.com"),
        ("John Smith", "John%20Smith"),
        ("room#4", "room%234"),
        ("a/b?c&d=e", "a%2Fb%3Fc%26d%3De"),
        ("100%", "100%25"),
        ("J\u00fcrgen", "J%C3%BCrgen"),
    ],
)
def test_build_percent_encodes_account(account: str, encoded: str) -> None:
    """The account is percent-encoded: no raw '+', '#', space or URI delimiter."""
    uri = build_uri(KEY, account=account, issuer="X")
    assert uri.startswith(f"otpauth://totp/X:{encoded}?")
    assert parse_uri(uri).account == account


@pytest.mark.parametrize("field", ["account", "issuer"])
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("a:b", "may not contain ':'"),
        ("a\nb", "control character"),
        ("a\x00b", "control character"),
        (" a", "start or end with a space"),
        ("x" * 257, "longer than 256"),
    ],
)
def test_build_refuses_bad_labels(field: str, value: str, message: str) -> None:
    """':' (which apps split on), control characters and stray spaces are refused."""
    account, issuer = (value, "ACME") if field == "account" else ("alice", value)
    with pytest.raises(InvalidParameter, match=message):
        build_uri(KEY, account=account, issuer=issuer)


def test_build_empty_account_or_issuer() -> None:
    """An empty account is refused; an empty issuer means no issuer."""
    with pytest.raises(InvalidParameter, match="account is empty"):
        build_uri(KEY, account="")
    assert build_uri(KEY, account="a", issuer="") == f"otpauth://totp/a?secret={B32}"


def test_build_refuses_short_secret() -> None:
    """Secrets under 128 bits need allow_short_key=True."""
    with pytest.raises(InvalidSecret, match="80 bits"):
        build_uri(KEY[:10], account="a")
    assert "secret=GEZDGNBVGY3TQOJQ" in build_uri(KEY[:10], account="a", allow_short_key=True)


def test_build_image() -> None:
    """An image URL is percent-encoded as a whole; only http(s) URLs are allowed."""
    uri = build_uri(KEY, account="a", image="https://example.com/logo.png?s=1&t=2")
    assert uri.endswith("&image=https%3A%2F%2Fexample.com%2Flogo.png%3Fs%3D1%26t%3D2")
    assert parse_uri(uri).image == "https://example.com/logo.png?s=1&t=2"
    with pytest.raises(InvalidParameter, match="https"):
        build_uri(KEY, account="a", image="javascript:alert(1)")


def test_parse_google_example() -> None:
    """The Key Uri Format's own example parses (its 80-bit secret needs allow_short_key)."""
    text = "otpauth://totp/Example:alice@google.com?secret=JBSWY3DPEHPK3PXP&issuer=Example"
    uri = parse_uri(text, allow_short_key=True)
    assert (uri.kind, uri.issuer, uri.account, uri.secret_b32) == (
        "totp", "Example", "alice@google.com", "JBSWY3DPEHPK3PXP"
    )
    assert (uri.algorithm, uri.digits, uri.period, uri.counter, uri.image) == (
        "SHA1", 6, 30, None, None
    )
    assert uri.to_uri() == text


def test_parse_all_fields() -> None:
    """Every parameter is read back."""
    uri = parse_uri(
        f"otpauth://hotp/ACME:bob?secret={B32}&issuer=ACME&algorithm=SHA512&digits=8"
        "&counter=7&image=https%3A%2F%2Fexample.com%2Fi.png"
    )
    assert uri == OtpUri(kind="hotp", secret=KEY, issuer="ACME", account="bob",
                         algorithm="SHA512", digits=8, counter=7,
                         image="https://example.com/i.png")


@pytest.mark.parametrize(
    ("text", "issuer", "account"),
    [
        (f"otpauth://totp/ACME:bob?secret={B32}", "ACME", "bob"),
        (f"otpauth://totp/bob?secret={B32}&issuer=ACME", "ACME", "bob"),
        (f"otpauth://totp/bob?secret={B32}", None, "bob"),
        (f"otpauth://totp/ACME%3Abob?secret={B32}", "ACME", "bob"),
        (f"otpauth://totp/ACME:%20%20bob?secret={B32}", "ACME", "bob"),
        (f"OTPAUTH://TOTP/ACME:bob?secret={B32.lower()}", "ACME", "bob"),
        (f"otpauth://totp/ACME:bob?secret={B32}&color=red&lock=false", "ACME", "bob"),
        (f"otpauth://totp/Bäckerei:anna?secret={B32}", "Bäckerei", "anna"),
    ],
)
def test_parse_accepted_variants(text: str, issuer: str | None, account: str) -> None:
    """Issuer from label or parameter, %3A separator, spaces after ':', case, extra params."""
    uri = parse_uri(text)
    assert (uri.issuer, uri.account, uri.secret) == (issuer, account, KEY)


def test_parse_algorithm_case() -> None:
    """A lower-case algorithm is read and reported in canonical upper case."""
    assert parse_uri(f"otpauth://totp/a?secret={B32}&algorithm=sha256").algorithm == "SHA256"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("https://example.com/?secret=" + B32, "not an otpauth:// URI"),
        ("otpauth:/totp/a?secret=" + B32, "not an otpauth:// URI"),
        ("otpauth://motp/a?secret=" + B32, "unknown OTP type 'motp'"),
        ("otpauth://totp?secret=" + B32, "missing label"),
        ("otpauth://xotp?secret=" + B32, "unknown OTP type 'xotp'"),
        ("otpauth://totp", "missing label"),
        ("otpauth://totp/?secret=" + B32, "account name is empty"),
        ("otpauth://totp/alice", "missing parameters"),
        ("otpauth://totp/alice?", "missing parameters"),
        ("otpauth://totp/a:b:c?secret=" + B32, "more than one ':'"),
        ("otpauth://totp/:bob?secret=" + B32, "empty issuer"),
        ("otpauth://totp/ACME:?secret=" + B32, "missing account name"),
        ("otpauth://totp/ACME:%20?secret=" + B32, "missing account name"),
        ("otpauth://totp/a?secret", "malformed parameter 'secret'"),
        ("otpauth://totp/a?secret=" + B32 + "&&digits=6", "malformed parameter ''"),
        ("otpauth://totp/a?=x&secret=" + B32, "malformed parameter '=x'"),
        ("otpauth://totp/a?secret=" + B32 + "&secret=" + B32, "'secret' appears more than once"),
        ("otpauth://totp/a?secret=" + B32 + "&issuer=A+B", "raw '\\+'"),
        ("otpauth://totp/a%zz?secret=" + B32, "'%' not followed by two hex digits"),
        ("otpauth://totp/a?secret=" + B32 + "&issuer=%4", "'%' not followed"),
        ("otpauth://totp/%C3%28?secret=" + B32, "not valid UTF-8"),
        ("otpauth://totp/a?secret=" + B32 + "&issuer=", "'issuer' is empty"),
        ("otpauth://totp/a?issuer=ACME", "missing secret"),
        ("otpauth://totp/a?secret=", "'secret' is empty"),
        ("otpauth://totp/a?secret=GEZDGNBV1Y3TQOJQ", "bad secret: the secret is not base32"),
        ("otpauth://totp/a?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQA", "bad secret: .*33 base32"),
        ("otpauth://totp/a?secret=JBSWY3DPEHPK3PXP", "bad secret: .*80 bits"),
        ("otpauth://totp/a?secret=" + B32 + "&algorithm=MD5", "unsupported algorithm 'MD5'"),
        ("otpauth://totp/a?secret=" + B32 + "&digits=six", "digits must be a whole number"),
        ("otpauth://totp/a?secret=" + B32 + "&digits=-6", "digits must be a whole number"),
        ("otpauth://totp/a?secret=" + B32 + "&digits=5", "digits must be .* 6 to 10, got 5"),
        ("otpauth://totp/a?secret=" + B32 + "&digits=12", "digits must be .* 6 to 10, got 12"),
        ("otpauth://totp/a?secret=" + B32 + "&period=0", "period must be"),
        ("otpauth://totp/a?secret=" + B32 + "&period=1e3", "period must be a whole number"),
        ("otpauth://totp/a?secret=" + B32 + "&period=%EF%BC%93", "period must be a whole"),
        ("otpauth://totp/a?secret=" + B32 + "&counter=1", "a totp URI has no counter"),
        ("otpauth://hotp/a?secret=" + B32, "missing counter parameter"),
        ("otpauth://hotp/a?secret=" + B32 + "&counter=1&period=30", "hotp URI has no period"),
        ("otpauth://hotp/a?secret=" + B32 + "&counter=" + "9" * 21, "counter must be"),
        ("otpauth://hotp/a?secret=" + B32 + "&counter=18446744073709551616", "counter must"),
        ("otpauth://totp/ACME:a?secret=" + B32 + "&issuer=Evil", "differs from the label's"),
        ("otpauth://totp/a?secret=" + B32 + "&image=ftp%3A%2F%2Fx", "image must be an https"),
        ("otpauth://totp/a%0Ab?secret=" + B32, "account contains a control character"),
        ("otpauth://totp/ACME Co:a?secret=" + B32, "space or control character"),
        ("otpauth://totp/a?secret=" + B32 + "\n", "space or control character"),
        ("otpauth://totp/room#4?secret=" + B32, "raw '#'"),
        ("otpauth://totp/" + "a" * 5000 + "?secret=" + B32, "longer than 4096"),
    ],
)
def test_parse_refusals(text: str, message: str) -> None:
    """Each malformed URI is refused with an InvalidUri that names the problem."""
    with pytest.raises(InvalidUri, match=message):
        parse_uri(text)


@pytest.mark.parametrize("value", [None, b"otpauth://totp/a?secret=" + B32.encode(), 42])
def test_parse_refuses_non_text(value: object) -> None:
    """Only str is parsed."""
    with pytest.raises(InvalidUri, match="must be text"):
        parse_uri(value)  # type: ignore[arg-type]


def test_round_trip_keeps_every_field() -> None:
    """A built URI parses back to the values it was built from."""
    text = build_uri(KEY, account="bob+1 #2@x.org", issuer="ACME & Sons 100%", kind="hotp",
                     algorithm="SHA256", digits=7, counter=99)
    uri = parse_uri(text)
    assert uri == OtpUri(kind="hotp", secret=KEY, issuer="ACME & Sons 100%",
                         account="bob+1 #2@x.org", algorithm="SHA256", digits=7, counter=99)
    assert uri.to_uri() == text


def test_repr_hides_the_secret() -> None:
    """OtpUri's repr has every field but the secret."""
    text = repr(parse_uri(f"otpauth://totp/a?secret={B32}"))
    assert B32 not in text
    assert "12345678901234567890" not in text
    assert "secret" not in text


def test_otp_uri_is_frozen_and_validated() -> None:
    """OtpUri cannot be changed and cannot be constructed invalid."""
    uri = parse_uri(f"otpauth://totp/a?secret={B32}")
    with pytest.raises(FrozenInstanceError):
        uri.digits = 8  # type: ignore[misc]
    with pytest.raises(InvalidParameter):
        OtpUri(kind="totp", secret=KEY, issuer=None, account="a:b")
    with pytest.raises(InvalidParameter):
        OtpUri(kind="hotp", secret=KEY, issuer=None, account="a")


def test_otp_from_uri() -> None:
    """OtpUri.otp() gives the generator the URI describes."""
    totp = parse_uri(f"otpauth://totp/a?secret={B32}&digits=8&algorithm=SHA1").otp()
    assert isinstance(totp, Totp)
    assert totp.generate_at(59) == "94287082"
    hotp = parse_uri(f"otpauth://hotp/a?secret={B32}&counter=0").otp()
    assert isinstance(hotp, Hotp)
    assert hotp.generate(0) == "755224"
