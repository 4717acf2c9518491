"""The Python side of the PAM integration in-process: answer reading, files, exit codes."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from otpgate.pam import helper
from otpgate.pam.errors import BadAnswer, FileRefused
from otpgate.pam.files import map_user, read_settings_file, read_user_map

from .conftest import Otpgate, closed_port, next_code, otpgate_values


@pytest.mark.parametrize("raw", [b"123456\n", b"123456", b"123 456\r\n", b"abcd-efgh-ijkm\n"])
def test_answers_read(raw: bytes) -> None:
    """One printable line, with or without its line ending, is the answer."""
    assert helper.read_answer(io.BytesIO(raw)) == raw.decode().rstrip("\r\n")


@pytest.mark.parametrize(
    "raw", [b"", b"\n", b"1" * 257, b"12\x00456\n", b"123456\nsecond\n", "١٢٣".encode()]
)
def test_bad_answers(raw: bytes) -> None:
    """Empty, oversized, control characters, two lines and non-ASCII are refused."""
    with pytest.raises(BadAnswer):
        helper.read_answer(io.BytesIO(raw))


def test_settings_file(tmp_path: Path) -> None:
    """OTPGATE_ lines, comments and quotes are read; other lines and unsafe modes refused."""
    path = tmp_path / "env"
    path.write_text("# c\n\nOTPGATE_ISSUER='Acme SSH'\nexport OTPGATE_HOME=/x\n", encoding="utf-8")
    path.chmod(0o600)
    assert read_settings_file(path) == {"OTPGATE_ISSUER": "Acme SSH", "OTPGATE_HOME": "/x"}
    path.chmod(0o620)
    with pytest.raises(FileRefused, match="writable"):
        read_settings_file(path)
    path.chmod(0o600)
    path.write_text("PATH=/tmp\n", encoding="utf-8")
    with pytest.raises(FileRefused, match="line 1"):
        read_settings_file(path)


def test_user_map(tmp_path: Path) -> None:
    """Mapped names are translated, others kept; repeated or malformed lines refused."""
    path = tmp_path / "map"
    path.write_text("root admin  # comment\n", encoding="utf-8")
    mapping = read_user_map(path)
    assert map_user("root", mapping) == "admin"
    assert map_user("bob", mapping) == "bob"
    path.write_text("root admin\nroot other\n", encoding="utf-8")
    with pytest.raises(FileRefused, match="twice"):
        read_user_map(path)
    path.write_text("root\n", encoding="utf-8")
    with pytest.raises(FileRefused, match="line 1"):
        read_user_map(path)


def _run(otpgate: Otpgate, answer: bytes, user: str = "alice", **env: str) -> tuple[int, str]:
    err = io.StringIO()
    environ = {"PAM_USER": user, "PAM_RHOST": "192.0.2.9", "PAM_SERVICE": "sshd", **env}
    status = helper.run(stdin=io.BytesIO(answer), stderr=err, environ=environ,
                        config=otpgate.env_file)
    return status, err.getvalue()


def test_exit_statuses(otpgate: Otpgate) -> None:
    """0 accepted, 1 refused, 3 no 2FA, 2 no PAM_USER; one log line each, never the code."""
    secret = otpgate.add_user("alice")
    code = next_code(secret)
    status, log = _run(otpgate, code.encode())
    assert status == 0 and log == "otpgate-pam: accepted user=alice rhost=192.0.2.9 method=totp\n"
    status, log = _run(otpgate, code.encode())
    assert status == 1 and "reason=replayed" in log and code not in log
    assert _run(otpgate, b"123456", user="nobody")[0] == 3
    assert _run(otpgate, b"123456", user="")[0] == 2


def test_database_down_is_5(otpgate: Otpgate, tmp_path: Path) -> None:
    """An unreachable database: exit 5 with a log line naming the error type."""
    values = otpgate_values(otpgate.home)
    values["OTPGATE_DATABASE_URL"] = f"postgresql+psycopg://x@127.0.0.1:{closed_port()}/x"
    otpgate.env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    status, log = _run(otpgate, b"123456")
    assert status == 5
    assert log.startswith("otpgate-pam: refused, otpgate unavailable: ")
    assert log.count("\n") == 1
