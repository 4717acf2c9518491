"""Cross-check with an independent implementation: oathtool from Debian's oathtool package.

oathtool's HOTP mode is SHA1 only; HOTP with SHA256/SHA512 is checked through its TOTP
mode with a 1-second step and T0 = 0, where the time step *is* the HOTP counter.
Keys reach oathtool on standard input, never on its command line.
"""

from __future__ import annotations

import subprocess

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import need_tool
from otpgate.otp import Algorithm, Hotp, Totp

WINDOW = 8  # oathtool -w: codes for WINDOW further steps/counters in the same run
keys = st.binary(min_size=16, max_size=64)
algorithms = st.sampled_from(["SHA1", "SHA256", "SHA512"])
oath_digits = st.sampled_from([6, 7, 8])  # the lengths oathtool supports
# gnulib's date parser accepts "@SECONDS" far beyond 2038.
times = st.integers(min_value=0, max_value=2**36)
slow = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def oathtool(*args: str, key: bytes) -> list[str]:
    """oathtool's output lines for a hex key given on standard input."""
    tool = need_tool("oathtool")
    done = subprocess.run([tool, *args, "-w", str(WINDOW), "-"], input=key.hex(),
                          capture_output=True, text=True, check=True, timeout=30)
    return done.stdout.split()


@slow
@given(key=keys, unix_time=times, digits=oath_digits, algorithm=algorithms,
       period=st.sampled_from([1, 15, 30, 60, 3600]), t0=st.integers(0, 10**6))
def test_totp_matches_oathtool(
    key: bytes, unix_time: int, digits: int, algorithm: Algorithm, period: int, t0: int
) -> None:
    """TOTP codes for random keys, times, periods and T0 equal oathtool's, all algorithms."""
    unix_time += t0
    expected = oathtool(f"--totp={algorithm}", f"--digits={digits}",
                        f"--time-step-size={period}s", f"--start-time=@{t0}",
                        f"--now=@{unix_time}", key=key)
    ours = Totp(key, digits=digits, algorithm=algorithm, period=period, t0=t0)
    step = ours.step(unix_time)
    assert [ours.generate_step(step + i) for i in range(WINDOW + 1)] == expected
    assert ours.generate_at(unix_time) == expected[0]


@slow
@given(key=keys, counter=st.integers(0, 2**63), digits=oath_digits)
def test_hotp_sha1_matches_oathtool(key: bytes, counter: int, digits: int) -> None:
    """HOTP (SHA1) codes for random keys and counters equal oathtool's --hotp output."""
    expected = oathtool("--hotp", f"--counter={counter}", f"--digits={digits}", key=key)
    ours = Hotp(key, digits=digits)
    assert [ours.generate(counter + i) for i in range(WINDOW + 1)] == expected


@slow
@given(key=keys, counter=times, digits=oath_digits, algorithm=algorithms)
def test_hotp_all_algorithms_match_oathtool(
    key: bytes, counter: int, digits: int, algorithm: Algorithm
) -> None:
    """HOTP with SHA1/256/512 equals oathtool's TOTP with a 1 s step at time = counter."""
    expected = oathtool(f"--totp={algorithm}", f"--digits={digits}", "--time-step-size=1s",
                        f"--now=@{counter}", key=key)
    ours = Hotp(key, digits=digits, algorithm=algorithm)
    assert [ours.generate(counter + i) for i in range(WINDOW + 1)] == expected


def test_oathtool_agrees_on_a_fixed_vector() -> None:
    """oathtool itself gives the RFC 6238 value we check against (guards the harness)."""
    assert oathtool("--totp=SHA512", "--digits=8", "--now=@59",
                    key=b"1234567890123456789012345678901234567890123456789012345678901234"
                    )[0] == "90693936"
