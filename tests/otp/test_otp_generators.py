"""Hotp and Totp behaviour: windows, returned steps, parameters and their limits."""

from __future__ import annotations

import hmac
import struct

import pytest

from otpgate.otp import (
    Hotp,
    InvalidParameter,
    InvalidSecret,
    MalformedCode,
    Totp,
    UnsupportedAlgorithm,
)

KEY = bytes(range(20))
T = 1_700_000_015  # inside step 56_666_667


def reference_code(key: bytes, counter: int, digits: int = 6, digest: str = "sha1") -> str:
    """RFC 4226 written out with the standard library's hmac, as an independent reference."""
    mac = hmac.digest(key, struct.pack(">Q", counter), digest)
    offset = mac[-1] & 0x0F
    value = int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def test_totp_step_boundaries() -> None:
    """step() is floor((t - t0) / period), including fractional and boundary times."""
    totp = Totp(KEY, period=30, t0=10)
    assert totp.step(10) == 0
    assert totp.step(39.999) == 0
    assert totp.step(40) == 1
    assert Totp(KEY).step(T) == 56_666_667


@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_window_returns_the_matched_step(offset: int) -> None:
    """A code from one step behind, now, or one step ahead returns that step."""
    totp = Totp(KEY)
    step = totp.step(T)
    assert totp.match(totp.generate_step(step + offset), T) == step + offset


@pytest.mark.parametrize("offset", [-3, -2, 2, 3])
def test_window_refuses_outside(offset: int) -> None:
    """Codes two or more steps away are refused with the default window."""
    totp = Totp(KEY)
    step = totp.step(T)
    assert totp.match(totp.generate_step(step + offset), T) is None


def test_window_sizes_are_separate() -> None:
    """behind and ahead are configured independently."""
    totp = Totp(KEY)
    step = totp.step(T)
    assert totp.match(totp.generate_step(step - 3), T, behind=3, ahead=0) == step - 3
    assert totp.match(totp.generate_step(step + 1), T, behind=3, ahead=0) is None
    assert totp.match(totp.generate_step(step + 2), T, behind=0, ahead=2) == step + 2
    assert totp.match(totp.generate_step(step - 1), T, behind=0, ahead=0) is None


def test_window_stops_at_step_zero() -> None:
    """Near t0 the window does not reach negative steps."""
    totp = Totp(KEY)
    assert totp.match(totp.generate_step(0), 5, behind=5) == 0


def test_collision_returns_latest_step() -> None:
    """When a code matches several steps in the window, the latest one is returned."""
    hotp = Hotp(KEY)
    codes: dict[str, int] = {}
    for counter in range(3_000_000):
        code = reference_code(KEY, counter)
        if code in codes and counter - codes[code] <= 1000:
            first = codes[code]
            break
        codes[code] = counter
    else:  # pragma: no cover - would mean HMAC-SHA1 is badly broken
        pytest.fail("no collision found")
    assert hotp.match(code, first, look_ahead=counter - first) == counter


def test_hotp_look_ahead() -> None:
    """HOTP matching looks ahead only, and returns the counter that matched."""
    hotp = Hotp(KEY)
    assert hotp.match(hotp.generate(105), 100, look_ahead=10) == 105
    assert hotp.match(hotp.generate(99), 100, look_ahead=10) is None
    assert hotp.match(hotp.generate(111), 100, look_ahead=10) is None
    assert hotp.match(hotp.generate(100), 100) == 100


@pytest.mark.parametrize("algorithm", ["SHA1", "SHA256", "SHA512"])
@pytest.mark.parametrize("digits", [6, 7, 8, 9, 10])
def test_matches_stdlib_reference(algorithm: str, digits: int) -> None:
    """Codes agree with a plain hmac-module implementation for every algorithm and length."""
    hotp = Hotp(KEY, digits=digits, algorithm=algorithm)  # type: ignore[arg-type]
    for counter in (0, 1, 2**32, 2**63, 2**64 - 1):
        assert hotp.generate(counter) == reference_code(KEY, counter, digits, algorithm.lower())


@pytest.mark.parametrize("length", [16, 63, 64, 65, 128, 129, 200, 1024])
@pytest.mark.parametrize("algorithm", ["SHA1", "SHA256", "SHA512"])
def test_key_lengths_around_block_size(length: int, algorithm: str) -> None:
    """Keys shorter, equal and longer than the hash block (hashed first) follow RFC 2104."""
    key = bytes((i * 7) % 256 for i in range(length))
    hotp = Hotp(key, algorithm=algorithm)  # type: ignore[arg-type]
    assert hotp.generate(7) == reference_code(key, 7, 6, algorithm.lower())


def test_algorithm_is_case_insensitive_and_canonical() -> None:
    """'sha256' is accepted and reported as 'SHA256'."""
    assert Hotp(KEY, algorithm="sha256").algorithm == "SHA256"  # type: ignore[arg-type]


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-1", "sha3_256", "", None])
def test_unsupported_algorithms(algorithm: object) -> None:
    """Only SHA1, SHA256 and SHA512 are accepted."""
    with pytest.raises(UnsupportedAlgorithm):
        Totp(KEY, algorithm=algorithm)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"digits": 5},
        {"digits": 11},
        {"digits": True},
        {"digits": 6.0},
        {"period": 0},
        {"period": -30},
        {"period": 2.5},
        {"t0": -1},
    ],
)
def test_invalid_parameters(kwargs: dict[str, object]) -> None:
    """Out-of-range or wrongly typed parameters raise InvalidParameter at construction."""
    with pytest.raises(InvalidParameter):
        Totp(KEY, **kwargs)  # type: ignore[arg-type]


def test_short_keys_need_permission() -> None:
    """Keys under 128 bits are refused unless allow_short_key=True; empty keys always."""
    with pytest.raises(InvalidSecret, match="80 bits"):
        Totp(KEY[:10])
    assert Totp(KEY[:10], allow_short_key=True).generate_step(1) == reference_code(KEY[:10], 1)
    with pytest.raises(InvalidSecret, match="empty"):
        Hotp(b"", allow_short_key=True)
    with pytest.raises(InvalidSecret, match="must be bytes"):
        Hotp("12345678901234567890")  # type: ignore[arg-type]
    with pytest.raises(InvalidSecret, match="longer than"):
        Hotp(bytes(1025))


@pytest.mark.parametrize("bad_time", [float("nan"), float("inf"), "1700000000", None, -1, 1e300])
def test_invalid_times(bad_time: object) -> None:
    """Non-numbers, NaN, infinities, times before t0 and absurd times raise InvalidParameter."""
    totp = Totp(KEY)
    with pytest.raises(InvalidParameter):
        totp.generate_at(bad_time)  # type: ignore[arg-type]


@pytest.mark.parametrize("counter", [-1, 2**64, 1.0, "1", None, True])
def test_invalid_counters(counter: object) -> None:
    """HOTP counters must be ints from 0 to 2**64 - 1."""
    hotp = Hotp(KEY)
    with pytest.raises(InvalidParameter):
        hotp.generate(counter)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameter):
        hotp.match("123456", counter)  # type: ignore[arg-type]


def test_window_cannot_pass_the_last_counter() -> None:
    """A look-ahead beyond 2**64 - 1 is refused instead of wrapping around."""
    with pytest.raises(InvalidParameter):
        Hotp(KEY).match("123456", 2**64 - 1, look_ahead=1)


@pytest.mark.parametrize("window", [-1, 1001, 1.0, None, True])
def test_invalid_windows(window: object) -> None:
    """Window sizes must be ints from 0 to 1000."""
    with pytest.raises(InvalidParameter):
        Totp(KEY).match("123456", T, behind=window)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameter):
        Totp(KEY).match("123456", T, ahead=window)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameter):
        Hotp(KEY).match("123456", 0, look_ahead=window)  # type: ignore[arg-type]


def test_code_checked_before_parameters() -> None:
    """A malformed code is reported as such even with a bad time (nothing is computed)."""
    with pytest.raises(MalformedCode):
        Totp(KEY).match("12a456", float("nan"))


def test_repr_hides_the_key() -> None:
    """repr shows the parameters but nothing derived from the key."""
    key = b"SECRETKEYSECRETKEY00"
    for obj in (Hotp(key), Totp(key, digits=8, period=60)):
        text = repr(obj)
        assert "hidden" in text
        assert "SECRET" not in text
        assert key.hex() not in text
    assert repr(Totp(key, digits=8, period=60)) == (
        "Totp(key=<hidden>, digits=8, algorithm='SHA1', period=60, t0=0)"
    )


def test_properties() -> None:
    """The parameters are readable back."""
    totp = Totp(KEY, digits=7, algorithm="SHA512", period=45, t0=100)
    assert (totp.digits, totp.algorithm, totp.period, totp.t0) == (7, "SHA512", 45, 100)


def test_key_is_copied() -> None:
    """Changing the caller's bytearray after construction changes nothing."""
    key = bytearray(KEY)
    hotp = Hotp(key)  # type: ignore[arg-type]
    before = hotp.generate(1)
    key[0] ^= 0xFF
    assert hotp.generate(1) == before == reference_code(KEY, 1)
