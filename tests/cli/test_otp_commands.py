"""``otpgate code`` and ``otpgate uri``: output and exit codes through ``otpgate.cli.main``."""

from __future__ import annotations

import io
import stat
import subprocess
import time
from pathlib import Path

import pytest

from conftest import need_tool
from otpgate.cli import main
from otpgate.otp import Totp, b32decode, b32encode, parse_uri

SHA1_SEED = b32encode(b"12345678901234567890")
SEEDS = {
    "SHA1": SHA1_SEED,
    "SHA256": b32encode(b"12345678901234567890123456789012"),
    "SHA512": b32encode(b"1234567890123456789012345678901234567890123456789012345678901234"),
}
URI = f"otpauth://totp/ACME%20Co:alice@example.com?secret={SHA1_SEED}&issuer=ACME%20Co"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of one ``otpgate`` invocation."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(err: str, fragment: str) -> None:
    """stderr is a single 'otpgate: error: …' line containing fragment (no traceback)."""
    assert err.count("\n") == 1, err
    assert err.startswith("otpgate: error: ")
    assert fragment in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("algorithm", "unix_time", "expected"),
    [("SHA1", "59", "94287082"), ("SHA256", "1111111109", "68084774"),
     ("SHA512", "20000000000", "47863826")],
)
def test_code_rfc6238(
    capsys: pytest.CaptureFixture[str], algorithm: str, unix_time: str, expected: str
) -> None:
    """`otpgate code` prints the RFC 6238 code for a given time, digits and algorithm."""
    assert run(capsys, "code", SEEDS[algorithm], "--time", unix_time, "--digits", "8",
               "--algorithm", algorithm.lower()) == (0, expected + "\n", "")


@pytest.mark.parametrize(
    "when", ["2005-03-18T01:58:29Z", "2005-03-18 01:58:29", "2005-03-18T02:58:29+01:00",
             "1111111109.5"]
)
def test_code_time_formats(capsys: pytest.CaptureFixture[str], when: str) -> None:
    """--time takes Unix seconds or ISO 8601 (naive means UTC)."""
    assert run(capsys, "code", SHA1_SEED, "--time", when, "--digits", "8")[1] == "07081804\n"


def test_code_now(capsys: pytest.CaptureFixture[str]) -> None:
    """Without --time the code is the current one."""
    totp = Totp(b"12345678901234567890")
    before = totp.generate_at(time.time())
    code, out, _ = run(capsys, "code", SHA1_SEED)
    after = totp.generate_at(time.time())
    assert code == 0
    assert out.strip() in {before, after}


def test_code_hotp(capsys: pytest.CaptureFixture[str]) -> None:
    """--hotp --counter N prints the RFC 4226 code for that counter."""
    assert run(capsys, "code", SHA1_SEED, "--hotp", "--counter", "9") == (0, "520489\n", "")


def test_code_tolerant_secret(capsys: pytest.CaptureFixture[str]) -> None:
    """A lowercase secret in groups is accepted."""
    typed = " ".join(SHA1_SEED[i : i + 4] for i in range(0, 32, 4)).lower()
    assert run(capsys, "code", typed, "--time", "59", "--digits", "8")[1] == "94287082\n"


def test_code_secret_from_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """SECRET '-' reads the secret from standard input."""
    monkeypatch.setattr("sys.stdin", io.StringIO(SHA1_SEED + "\n"))
    assert run(capsys, "code", "-", "--hotp", "--counter", "0") == (0, "755224\n", "")


def test_code_short_secret(capsys: pytest.CaptureFixture[str]) -> None:
    """An 80-bit secret is refused unless --allow-short-secret."""
    code, out, err = run(capsys, "code", "JBSWY3DPEHPK3PXP", "--hotp", "--counter", "0")
    assert (code, out) == (2, "")
    assert_one_line_error(err, "--allow-short-secret")
    assert run(capsys, "code", "JBSWY3DPEHPK3PXP", "--hotp", "--counter", "0",
               "--allow-short-secret")[0] == 0


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["GEZDGNBVGY3TQOJ1GEZDGNBVGY3TQOJQ"], "not base32"),
        ([SHA1_SEED, "--hotp"], "--hotp needs --counter"),
        ([SHA1_SEED, "--counter", "3"], "--counter is for HOTP"),
        ([SHA1_SEED, "--hotp", "--counter", "3", "--period", "60"], "--period is for TOTP"),
        ([SHA1_SEED, "--hotp", "--counter", "3", "--time", "5"], "--time is for TOTP"),
        ([SHA1_SEED, "--time", "yesterday"], "neither Unix seconds nor an ISO 8601"),
        ([SHA1_SEED, "--digits", "11"], "digits must be a whole number from 6 to 10"),
        ([SHA1_SEED, "--period", "0"], "period must be"),
        ([SHA1_SEED, "--hotp", "--counter", "18446744073709551616"], "counter must be"),
    ],
)
def test_code_errors(capsys: pytest.CaptureFixture[str], args: list[str], fragment: str) -> None:
    """Bad secrets, option combinations and values give exit 2 and one error line."""
    code, out, err = run(capsys, "code", *args)
    assert (code, out) == (2, "")
    assert_one_line_error(err, fragment)


@pytest.mark.parametrize("value", ["\u0663", "+3", "-1", "3.0"])
def test_numbers_are_ascii_digits(capsys: pytest.CaptureFixture[str], value: str) -> None:
    """--digits, --period and --counter take ASCII digits only (argparse usage error)."""
    with pytest.raises(SystemExit) as info:
        main(["code", SHA1_SEED, "--hotp", "--counter", value])
    assert info.value.code == 2
    assert "not a whole number" in capsys.readouterr().err


def test_uri_new_secret(capsys: pytest.CaptureFixture[str]) -> None:
    """`otpgate uri` prints a TOTP URI with a new 160-bit secret and the defaults omitted."""
    code, out, err = run(capsys, "uri", "--issuer", "ACME Co", "--account", "alice@example.com")
    assert (code, err) == (0, "")
    text = out.strip()
    assert text.startswith("otpauth://totp/ACME%20Co:alice@example.com?secret=")
    assert text.endswith("&issuer=ACME%20Co")
    uri = parse_uri(text)
    assert len(uri.secret) == 20
    assert "=" not in text.split("secret=")[1].split("&")[0]
    assert parse_uri(run(capsys, "uri", "--issuer", "A", "--account", "b")[1].strip()).secret \
        != uri.secret


def test_uri_given_secret_and_parameters(capsys: pytest.CaptureFixture[str]) -> None:
    """--secret and non-default parameters are written; the algorithm upper case."""
    code, out, _ = run(capsys, "uri", "--issuer", "ACME", "--account", "bob+1", "--secret",
                       SHA1_SEED.lower(), "--algorithm", "sha256", "--digits", "8",
                       "--period", "60")
    assert (code, out) == (0, f"otpauth://totp/ACME:bob%2B1?secret={SHA1_SEED}&issuer=ACME"
                              "&algorithm=SHA256&digits=8&period=60\n")


def test_uri_hotp(capsys: pytest.CaptureFixture[str]) -> None:
    """--hotp writes a counter (0 unless --counter)."""
    assert run(capsys, "uri", "--issuer", "A", "--account", "b", "--secret", SHA1_SEED,
               "--hotp")[1] == f"otpauth://hotp/A:b?secret={SHA1_SEED}&issuer=A&counter=0\n"
    assert run(capsys, "uri", "--issuer", "A", "--account", "b", "--secret", SHA1_SEED,
               "--hotp", "--counter", "7")[1].endswith("&counter=7\n")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--account", "bob"], "needs --issuer and --account"),
        (["--issuer", "ACME"], "needs --issuer and --account"),
        (["--issuer", "ACME", "--account", "bob:admin"], "may not contain ':'"),
        (["--issuer", "AC:ME", "--account", "bob"], "may not contain ':'"),
        (["--issuer", "ACME", "--account", "bob", "--secret", "JBSWY3DPEHPK3PXP"], "80 bits"),
        (["--issuer", "ACME", "--account", "bob", "--counter", "1"], "--counter is for HOTP"),
        (["--issuer", "ACME", "--account", "bob", "--hotp", "--period", "60"], "for TOTP"),
        (["--issuer", "ACME", "--account", "bob", "--qr", "code.jpg"], "end in .svg or .png"),
        (["--issuer", "ACME", "--account", "bob", "--qr", "/nonexistent/dir/q.png"], "--qr"),
    ],
)
def test_uri_errors(capsys: pytest.CaptureFixture[str], args: list[str], fragment: str) -> None:
    """Missing names, ':' in them, short secrets, bad combinations: exit 2, nothing printed."""
    code, out, err = run(capsys, "uri", *args)
    assert (code, out) == (2, "")
    assert_one_line_error(err, fragment)


def test_uri_qr_png(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """--qr FILE.png writes a private PNG that zbarimg decodes to the printed URI."""
    path = tmp_path / "enrol.png"
    code, out, err = run(capsys, "uri", "--issuer", "ACME Co", "--account", "a@b.c",
                         "--qr", str(path))
    assert code == 0
    assert "keep it private" in err
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    tool = need_tool("zbarimg")
    decoded = subprocess.run([tool, "--raw", "-q", str(path)], capture_output=True, text=True,
                             check=True, timeout=60).stdout
    assert decoded == out


def test_uri_qr_svg_tightens_existing_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """--qr FILE.svg writes an SVG and makes an existing file private too."""
    path = tmp_path / "enrol.SVG"
    path.write_text("old")
    path.chmod(0o644)
    assert run(capsys, "uri", "--issuer", "A", "--account", "b", "--qr", str(path))[0] == 0
    assert path.read_text().startswith("<svg ")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_uri_qr_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    """--qr-terminal prints the URI, then the code in half-block characters."""
    code, out, _ = run(capsys, "uri", "--issuer", "A", "--account", "b", "--qr-terminal")
    lines = out.splitlines()
    assert code == 0
    assert lines[0].startswith("otpauth://totp/A:b?secret=")
    assert len(lines) > 15
    assert all("\u2588" in line for line in lines[1:])


def test_parse(capsys: pytest.CaptureFixture[str]) -> None:
    """--parse prints one field per line."""
    assert run(capsys, "uri", "--parse", URI) == (0, (
        "type:      totp\n"
        "issuer:    ACME Co\n"
        "account:   alice@example.com\n"
        f"secret:    {SHA1_SEED}\n"
        "algorithm: SHA1\n"
        "digits:    6\n"
        "period:    30\n"
    ), "")


def test_parse_hotp_and_image(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An hotp URI shows its counter and image; '-' reads the URI from stdin."""
    text = (f"otpauth://hotp/bob?secret={SHA1_SEED}&counter=5&digits=8"
            "&image=https%3A%2F%2Fexample.com%2Fa.png")
    monkeypatch.setattr("sys.stdin", io.StringIO(text + "\n"))
    code, out, _ = run(capsys, "uri", "--parse", "-")
    assert code == 0
    assert "issuer:    -\n" in out
    assert "counter:   5\n" in out
    assert "period" not in out
    assert out.endswith("image:     https://example.com/a.png\n")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("https://example.com", "not an otpauth:// URI"),
        (URI.replace("issuer=ACME%20Co", "issuer=Evil"), "differs from the label's issuer"),
        (URI.replace("secret=", "x="), "missing secret"),
        ("otpauth://hotp/a?secret=" + SHA1_SEED, "missing counter"),
        ("otpauth://totp/a?secret=" + SHA1_SEED + "&digits=12", "digits must be"),
    ],
)
def test_parse_errors(capsys: pytest.CaptureFixture[str], text: str, fragment: str) -> None:
    """A malformed URI gives one error line and exit code 2."""
    code, out, err = run(capsys, "uri", "--parse", text)
    assert (code, out) == (2, "")
    assert_one_line_error(err, fragment)


def test_parse_refuses_build_options(capsys: pytest.CaptureFixture[str]) -> None:
    """--parse with options of the build mode is a usage error."""
    code, out, err = run(capsys, "uri", "--parse", URI, "--issuer", "X", "--qr-terminal")
    assert (code, out) == (2, "")
    assert_one_line_error(err, "cannot be combined with --issuer, --qr-terminal")


def test_parse_empty_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """'-' with nothing on standard input is a one-line error."""
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code, _, err = run(capsys, "uri", "--parse", "-")
    assert code == 2
    assert_one_line_error(err, "no URI on standard input")


def test_secret_round_trip_through_both_commands(capsys: pytest.CaptureFixture[str]) -> None:
    """The secret shown by `uri --parse` gives, via `code`, the code of the URI's key."""
    text = run(capsys, "uri", "--issuer", "A", "--account", "b", "--digits", "7")[1].strip()
    secret = run(capsys, "uri", "--parse", text)[1].split("secret:")[1].split()[0]
    expected = Totp(b32decode(secret), digits=7).generate_at(1_700_000_000)
    assert run(capsys, "code", secret, "--digits", "7", "--time", "1700000000")[1] == (
        expected + "\n"
    )
