"""A key ring loaded from a key file follows rotations of that file without a restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from otpgate.security import secretbox
from otpgate.security.errors import DecryptionFailed
from otpgate.security.secretbox import add_key_to_file, load_keyring

CONTEXT = b"otp-credential:7"


def test_value_sealed_under_a_newer_key_opens_in_a_process_that_loaded_the_old_file(
    tmp_path: Path,
) -> None:
    """Opening a value under an unknown key id re-reads the key file at once."""
    key_file = tmp_path / "secret.keys"
    running = load_keyring("", key_file)
    old_id = running.primary_id
    new_id = add_key_to_file(key_file)
    rotated = load_keyring("", key_file)
    key_id, sealed = rotated.seal(b"12345678901234567890", context=CONTEXT)
    assert key_id == new_id != old_id
    assert running.open(key_id, sealed, context=CONTEXT) == b"12345678901234567890"


def test_seal_uses_the_new_primary_once_the_file_is_checked_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the reload interval a running ring seals under the key the file now puts first."""
    key_file = tmp_path / "secret.keys"
    running = load_keyring("", key_file)
    new_id = add_key_to_file(key_file)
    monkeypatch.setattr(secretbox, "RELOAD_CHECK_SECONDS", 0.0)
    key_id, _ = running.seal(b"x" * 20, context=CONTEXT)
    assert key_id == new_id
    assert running.ids[0] == new_id and len(running.ids) == 2


def test_a_broken_key_file_keeps_the_keys_already_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key file edited into nonsense does not take the running keys away."""
    key_file = tmp_path / "secret.keys"
    running = load_keyring("", key_file)
    key_id, sealed = running.seal(b"y" * 20, context=CONTEXT)
    key_file.write_text("this is not a key\n")
    key_file.chmod(0o600)
    monkeypatch.setattr(secretbox, "RELOAD_CHECK_SECONDS", 0.0)
    assert running.primary_id == key_id
    assert running.open(key_id, sealed, context=CONTEXT) == b"y" * 20


def test_keys_from_the_environment_never_look_at_a_file(tmp_path: Path) -> None:
    """A ring built from OTPGATE_SECRET_KEYS text stays exactly that ring."""
    key_file = tmp_path / "secret.keys"
    file_ring = load_keyring("", key_file)
    text = "envkey:" + "A" * 43
    env_ring = load_keyring(text, key_file)
    key_id, sealed = file_ring.seal(b"z" * 20, context=CONTEXT)
    with pytest.raises(DecryptionFailed):
        env_ring.open(key_id, sealed, context=CONTEXT)
