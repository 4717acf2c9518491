"""Property tests: agreement with pyotp, URI round trips, and junk that never escapes OtpError."""

from __future__ import annotations

import datetime as dt
import hashlib
import string

import pyotp
from hypothesis import example, given
from hypothesis import strategies as st

from otpgate.otp import (
    Algorithm,
    Hotp,
    InvalidSecret,
    InvalidUri,
    MalformedCode,
    OtpUri,
    Totp,
    b32decode,
    b32encode,
    build_uri,
    grouped,
    normalise_code,
    parse_uri,
)

ALGORITHMS: list[Algorithm] = ["SHA1", "SHA256", "SHA512"]
DIGESTS = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}
keys = st.binary(min_size=16, max_size=80)
algorithms = st.sampled_from(ALGORITHMS)
digits = st.integers(min_value=6, max_value=10)
# Up to year ~6300: within datetime's range, so pyotp can be given an exact UTC datetime.
times = st.integers(min_value=0, max_value=2**37)
periods = st.integers(min_value=1, max_value=3600)
label_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp", "Zs", "Cf", "Co", "Cn"),
                           blacklist_characters=":"),
    min_size=1, max_size=40,
).filter(lambda s: s.isprintable())
spaced_label = st.builds(lambda a, b: f"{a} {b}", label_text, label_text)


@given(key=keys, unix_time=times, digits=digits, period=periods, algorithm=algorithms)
def test_totp_equals_pyotp(
    key: bytes, unix_time: int, digits: int, period: int, algorithm: Algorithm
) -> None:
    """Our TOTP code equals pyotp's for random secrets, times, digits, periods, algorithms."""
    ours = Totp(key, digits=digits, algorithm=algorithm, period=period)
    theirs = pyotp.TOTP(b32encode(key), digits=digits, digest=DIGESTS[algorithm],
                        interval=period)
    when = dt.datetime.fromtimestamp(unix_time, dt.UTC)
    assert ours.generate_at(unix_time) == theirs.at(when)
    assert ours.step(unix_time) == theirs.timecode(when)


@given(key=keys, counter=st.integers(min_value=0, max_value=2**64 - 1), digits=digits,
       algorithm=algorithms)
def test_hotp_equals_pyotp(key: bytes, counter: int, digits: int, algorithm: Algorithm) -> None:
    """Our HOTP code equals pyotp's for random secrets, counters, digits and algorithms."""
    ours = Hotp(key, digits=digits, algorithm=algorithm)
    theirs = pyotp.HOTP(b32encode(key), digits=digits, digest=DIGESTS[algorithm])
    assert ours.generate(counter) == theirs.at(counter)


@given(key=keys, unix_time=times, period=periods, offset=st.integers(-3, 3),
       behind=st.integers(0, 3), ahead=st.integers(0, 3))
def test_window_property(
    key: bytes, unix_time: int, period: int, offset: int, behind: int, ahead: int
) -> None:
    """A code of step+offset is accepted exactly when -behind <= offset <= ahead."""
    totp = Totp(key, period=period)
    step = totp.step(unix_time)
    target = step + offset
    if target < 0:
        return
    code = totp.generate_step(target)
    found = totp.match(" ".join([code[:3], code[3:]]), unix_time, behind=behind, ahead=ahead)
    if -behind <= offset <= ahead:
        assert found is not None
        assert found >= target  # a coincidental later match wins (see _match_range)
    if found is not None:  # whatever matched is in the window and has this code
        assert step - behind <= found <= step + ahead
        assert totp.generate_step(found) == code


@given(key=keys)
def test_base32_round_trip(key: bytes) -> None:
    """Encoding then decoding (also lowercase, grouped, dashed) gives the key back."""
    text = b32encode(key)
    assert "=" not in text
    assert b32decode(text) == key
    assert b32decode(text.lower()) == key
    assert b32decode(grouped(text)) == key
    assert b32decode(grouped(text).replace(" ", "-")) == key


@given(
    key=keys,
    account=st.one_of(label_text, spaced_label, st.emails()),
    issuer=st.one_of(st.none(), label_text, spaced_label),
    kind=st.sampled_from(["totp", "hotp"]),
    algorithm=algorithms,
    digits=digits,
    period=periods,
    counter=st.integers(min_value=0, max_value=2**64 - 1),
)
@example(key=bytes(16), account="a+b #c%20", issuer="x&y=z?", kind="totp", algorithm="SHA1",
         digits=6, period=30, counter=0)
def test_uri_round_trip(
    key: bytes, account: str, issuer: str | None, kind: str, algorithm: Algorithm,
    digits: int, period: int, counter: int,
) -> None:
    """A built URI parses back to the same values, and rebuilding gives the same text."""
    hotp = kind == "hotp"
    text = build_uri(key, account=account, issuer=issuer, kind="hotp" if hotp else "totp",
                     algorithm=algorithm, digits=digits, period=period,
                     counter=counter if hotp else None)
    assert " " not in text
    assert "+" not in text
    assert "#" not in text
    uri = parse_uri(text)
    assert uri == OtpUri(kind="hotp" if hotp else "totp", secret=key, issuer=issuer,
                         account=account, algorithm=algorithm, digits=digits,
                         period=30 if hotp else period, counter=counter if hotp else None)
    assert uri.to_uri() == text


uri_junk = st.one_of(
    st.text(max_size=200),
    st.builds(lambda kind, rest: f"otpauth://{kind}/{rest}", st.sampled_from(["totp", "hotp"]),
              st.text(alphabet=string.printable + "é:%&=?", max_size=120)),
    st.builds(
        lambda label, params: f"otpauth://totp/{label}?" + "&".join(params),
        st.text(alphabet="ab:%3A20+ ", max_size=10),
        st.lists(st.builds(lambda n, v: f"{n}={v}",
                           st.sampled_from(["secret", "issuer", "digits", "period", "counter",
                                            "algorithm", "image", "x", ""]),
                           st.text(alphabet="GEZDNBVY3TQOJ27%0a=+-:", max_size=40)),
                 max_size=6),
    ),
)


@given(text=uri_junk)
def test_parse_junk_raises_only_invalid_uri(text: str) -> None:
    """Random text either parses or raises InvalidUri; nothing else escapes."""
    try:
        uri = parse_uri(text)
    except InvalidUri:
        return
    assert parse_uri(uri.to_uri()) == uri


@given(value=st.one_of(st.text(max_size=100), st.binary(max_size=10), st.integers(),
                       st.none(), st.floats()),
       digits=digits)
def test_normalise_junk_raises_only_malformed_code(value: object, digits: int) -> None:
    """normalise_code returns ASCII digits of the right length or raises MalformedCode."""
    try:
        code = normalise_code(value, digits)
    except MalformedCode:
        return
    assert len(code) == digits
    assert code.isdigit()
    assert code.isascii()


@given(text=st.text(max_size=120))
def test_b32decode_junk_raises_only_invalid_secret(text: str) -> None:
    """b32decode returns a key of at least 128 bits or raises InvalidSecret."""
    try:
        key = b32decode(text)
    except InvalidSecret:
        return
    assert len(key) >= 16


@given(text=st.text(alphabet="0123456789 \u0660\u0661\u00b2a", max_size=20))
def test_match_junk(text: str) -> None:
    """Totp.match on near-digit junk returns a step, None, or raises MalformedCode."""
    totp = Totp(b"12345678901234567890")
    try:
        found = totp.match(text, 1_700_000_000)
    except MalformedCode:
        return
    assert found is None or totp.generate_step(found) == text.replace(" ", "")
