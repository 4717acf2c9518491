"""``otpgate keys rotate``: secrets stay readable, and the old key can then be removed."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pyotp
import pytest

from db_support import Dump
from otpgate.service import login, users
from otpgate.service.clock import FixedClock
from otpgate.service.context import Context

from .conftest import (
    KEY_1,
    KEY_2,
    OPERATOR_AS_USER,
    PASSWORD,
    T0,
    Run,
    enrol_totp,
    key_spec,
    one_line,
)


def _code_verifies(ctx: Context, username: str, secret: str, at: int) -> bool:
    """Whether the service accepts the TOTP code of ``secret`` at time ``at``."""
    assert isinstance(ctx.clock, FixedClock)
    ctx.clock.set(at)
    user = users.find_user(ctx, username)
    factor = login.verify_code(ctx, OPERATOR_AS_USER, user.id, pyotp.TOTP(secret).at(at))
    return factor.method == "totp"


def _key_ids(path: Path) -> list[str]:
    return re.findall(r"^([A-Za-z0-9_-]+):", path.read_text(), flags=re.MULTILINE)


def test_rotate_with_the_key_file(
    run: Run, service_ctx: Callable[[], Context], monkeypatch: pytest.MonkeyPatch, cli_env: str
) -> None:
    """Rotation adds a primary key to the file; with the old key deleted the code still checks."""
    monkeypatch.delenv("OTPGATE_SECRET_KEYS")
    key_file = Path(cli_env) / "secret.keys"
    run("user", "add", "bob", stdin=PASSWORD + "\n")
    [old_id] = _key_ids(key_file)
    secret = enrol_totp(service_ctx(), "bob")

    result = run("keys", "rotate")
    assert result.code == 0, result.err
    new_id, kept = _key_ids(key_file)
    assert kept == old_id and new_id != old_id
    assert f"Added key {new_id}" in result.out
    assert f"Re-encrypted 1 secret under key {new_id}." in result.out
    assert _code_verifies(service_ctx(), "bob", secret, T0 + 30)

    again = run("keys", "rotate", "--no-new-key", "--batch-size", "1")
    assert again.out.startswith(f"Primary key {new_id} from {key_file} (2 keys configured).\n")
    assert "Re-encrypted 0 secrets" in again.out
    assert _key_ids(key_file) == [new_id, old_id]

    # Remove the old key: everything still opens.
    newest = new_id
    lines = key_file.read_text().splitlines()
    key_file.write_text(
        "\n".join(ln for ln in lines if not re.match(r"[A-Za-z0-9_-]+:", ln)
                  or ln.startswith(newest + ":")) + "\n"
    )
    assert _key_ids(key_file) == [newest]
    assert _code_verifies(service_ctx(), "bob", secret, T0 + 60)
    assert "Two-factor:      on" in run("2fa", "status", "bob").out


def test_rotate_with_the_environment(
    run: Run, service_ctx: Callable[[], Context], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With OTPGATE_SECRET_KEYS the operator puts the new key first; rotate re-encrypts."""
    run("user", "add", "bob", stdin=PASSWORD + "\n")
    secret = enrol_totp(service_ctx(), "bob")
    monkeypatch.setenv("OTPGATE_SECRET_KEYS", key_spec(KEY_2, KEY_1))
    result = run("keys", "rotate")
    assert result.code == 0, result.err
    assert result.out.splitlines()[:2] == [
        "Primary key k2 from OTPGATE_SECRET_KEYS (2 keys configured).",
        "Re-encrypted 1 secret under key k2.",
    ]
    # bob's recovery codes are keyed hashes under k1, which no rotation can redo.
    assert result.out.splitlines()[-1].startswith(
        "10 unused recovery codes are hashed under an older key"
    )
    monkeypatch.setenv("OTPGATE_SECRET_KEYS", key_spec(KEY_2))
    assert _code_verifies(service_ctx(), "bob", secret, T0 + 30)


def test_rotate_without_the_old_key_is_refused(
    run: Run, service_ctx: Callable[[], Context], monkeypatch: pytest.MonkeyPatch,
    dump: Callable[[], Dump],
) -> None:
    """Dropping the old key before rotating: exit 5, one line naming the key, nothing changed."""
    run("user", "add", "bob", stdin=PASSWORD + "\n")
    enrol_totp(service_ctx(), "bob")
    monkeypatch.setenv("OTPGATE_SECRET_KEYS", key_spec(KEY_2))
    before = dump()
    result = run("keys", "rotate")
    assert result.code == 5
    assert "'k1'" in one_line(result.err)
    assert dump() == before


@pytest.mark.parametrize("size", ["0", "10001", "-5"])
def test_bad_batch_size(run: Run, size: str, dump: Callable[[], Dump]) -> None:
    """A batch size outside 1..10000 is refused before anything is done."""
    before = dump()
    result = run("keys", "rotate", "--batch-size", size)
    assert result.code == 2
    one_line(result.err)
    assert dump() == before
