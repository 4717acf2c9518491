"""The published test vectors of RFC 4226 (HOTP) and RFC 6238 (TOTP), kept as data files."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
from pathlib import Path

import pytest

from otpgate.otp import Algorithm, Hotp, Totp

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
RFC4226_SECRET = b"12345678901234567890"
RFC6238_SEEDS: dict[str, bytes] = {
    "SHA1": b"12345678901234567890",
    "SHA256": b"12345678901234567890123456789012",
    "SHA512": b"1234567890123456789012345678901234567890123456789012345678901234",
}


def read_vectors(name: str) -> list[dict[str, str]]:
    """Rows of a vector file (comment lines start with '#')."""
    with (VECTORS / name).open(newline="") as handle:
        return list(csv.DictReader(line for line in handle if not line.startswith("#")))


HOTP_ROWS = read_vectors("rfc4226_appendix_d.csv")
TOTP_ROWS = read_vectors("rfc6238_appendix_b.csv")


def test_vector_files_are_complete() -> None:
    """Both appendices are there whole: 10 HOTP counters, 6 times x 3 algorithms."""
    assert [int(r["counter"]) for r in HOTP_ROWS] == list(range(10))
    assert len(TOTP_ROWS) == 18
    assert {r["algorithm"] for r in TOTP_ROWS} == {"SHA1", "SHA256", "SHA512"}


@pytest.mark.parametrize("row", HOTP_ROWS, ids=lambda r: f"counter={r['counter']}")
def test_rfc4226_hotp(row: dict[str, str]) -> None:
    """Hotp gives the RFC 4226 Appendix D code for each counter."""
    assert Hotp(RFC4226_SECRET).generate(int(row["counter"])) == row["hotp"]


@pytest.mark.parametrize("row", HOTP_ROWS, ids=lambda r: f"counter={r['counter']}")
def test_rfc4226_truncated_value_as_ten_digits(row: dict[str, str]) -> None:
    """With 10 digits the code is the whole 31-bit truncated value of the appendix."""
    assert int(row["truncated_hex"], 16) == int(row["truncated"])
    code = Hotp(RFC4226_SECRET, digits=10).generate(int(row["counter"]))
    assert code == row["truncated"].zfill(10)


@pytest.mark.parametrize("row", HOTP_ROWS, ids=lambda r: f"counter={r['counter']}")
def test_rfc4226_intermediate_hmac(row: dict[str, str]) -> None:
    """The appendix's HMAC-SHA-1 values hold (a check of the vector file itself)."""
    mac = hmac.digest(RFC4226_SECRET, int(row["counter"]).to_bytes(8, "big"), hashlib.sha1)
    assert mac.hex() == row["hmac_sha1_hex"]


@pytest.mark.parametrize("row", HOTP_ROWS, ids=lambda r: f"counter={r['counter']}")
def test_rfc4226_match_returns_counter(row: dict[str, str]) -> None:
    """Each appendix code is matched at its own counter, looking ahead from counter 0."""
    assert Hotp(RFC4226_SECRET).match(row["hotp"], 0, look_ahead=9) == int(row["counter"])


@pytest.mark.parametrize("row", TOTP_ROWS, ids=lambda r: f"{r['algorithm']}-{r['time']}")
def test_rfc6238_totp(row: dict[str, str]) -> None:
    """Totp gives the RFC 6238 Appendix B code and step for each time and algorithm."""
    algorithm: Algorithm = row["algorithm"]  # type: ignore[assignment]
    totp = Totp(RFC6238_SEEDS[algorithm], digits=8, algorithm=algorithm)
    unix_time = int(row["time"])
    assert totp.step(unix_time) == int(row["step_hex"], 16)
    assert totp.generate_at(unix_time) == row["totp"]
    assert totp.generate_step(int(row["step_hex"], 16)) == row["totp"]
    assert totp.match(row["totp"], unix_time, behind=0, ahead=0) == int(row["step_hex"], 16)


@pytest.mark.parametrize("row", TOTP_ROWS[::3], ids=lambda r: r["time"])
def test_rfc6238_utc_column(row: dict[str, str]) -> None:
    """The appendix's UTC column is the Unix time of the row (a check of the file)."""
    when = dt.datetime.fromisoformat(row["utc"]).replace(tzinfo=dt.UTC)
    assert int(when.timestamp()) == int(row["time"])
