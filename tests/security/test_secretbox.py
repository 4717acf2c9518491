"""The secret box: AES-256-GCM under a key ring, keys from the environment or a key file."""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otpgate.security import (
    DecryptionFailed,
    InvalidKeyConfig,
    KeyRing,
    add_key_to_file,
    load_keyring,
    new_key,
)

K1 = bytes(range(32))
K2 = bytes(range(100, 132))
CONTEXT = b"otp-credential:7"
SECRET = b"12345678901234567890"


def b64url(key: bytes, *, pad: bool = False) -> str:
    text = base64.urlsafe_b64encode(key).decode()
    return text if pad else text.rstrip("=")


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def ring() -> KeyRing:
    """A ring whose primary is k2, with k1 as an older key."""
    return KeyRing([("k2", K2), ("k1", K1)])


@pytest.fixture
def open_umask() -> Iterator[None]:
    """Run with umask 0, so only the code's own mode choices protect the files."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_seal_then_open_round_trips(ring: KeyRing) -> None:
    """A sealed value opens to the plaintext under the primary key id."""
    key_id, sealed = ring.seal(SECRET, context=CONTEXT)
    assert key_id == "k2" == ring.primary_id
    assert ring.open(key_id, sealed, context=CONTEXT) == SECRET


def test_sealed_value_is_nonce_ciphertext_tag(ring: KeyRing) -> None:
    """The value is 12 nonce bytes + ciphertext + 16 tag bytes, fresh each time, no plaintext."""
    _, first = ring.seal(SECRET, context=CONTEXT)
    _, second = ring.seal(SECRET, context=CONTEXT)
    assert len(first) == 12 + len(SECRET) + 16
    assert first[:12] != second[:12]
    assert first != second
    assert SECRET not in first


def test_older_keys_still_open(ring: KeyRing) -> None:
    """A value sealed when k1 was primary opens in a ring where k1 is older."""
    key_id, sealed = KeyRing([("k1", K1)]).seal(SECRET, context=CONTEXT)
    assert ring.open(key_id, sealed, context=CONTEXT) == SECRET


def test_bytes_like_sealed_values_open(ring: KeyRing) -> None:
    """Databases may hand back bytearray or memoryview; both open."""
    key_id, sealed = ring.seal(SECRET, context=CONTEXT)
    assert ring.open(key_id, bytearray(sealed), context=CONTEXT) == SECRET
    assert ring.open(key_id, memoryview(sealed), context=CONTEXT) == SECRET


@pytest.mark.parametrize("position", [0, 11, 12, 20, 31, -16, -1])
def test_any_flipped_bit_is_detected(ring: KeyRing, position: int) -> None:
    """Changing one bit of nonce, ciphertext or tag raises DecryptionFailed."""
    key_id, sealed = ring.seal(SECRET, context=CONTEXT)
    tampered = bytearray(sealed)
    tampered[position] ^= 0x01
    with pytest.raises(DecryptionFailed):
        ring.open(key_id, bytes(tampered), context=CONTEXT)


@pytest.mark.parametrize("length", [0, 1, 12, 27, 28, 35])
def test_truncated_values_are_refused(ring: KeyRing, length: int) -> None:
    """A shortened sealed value raises DecryptionFailed."""
    key_id, sealed = ring.seal(SECRET, context=CONTEXT)
    with pytest.raises(DecryptionFailed):
        ring.open(key_id, sealed[:length], context=CONTEXT)


@pytest.mark.parametrize("context", [b"otp-credential:8", b"otp-credential:70", b"", b"x"])
def test_another_owner_cannot_open(ring: KeyRing, context: bytes) -> None:
    """A value sealed for one owner does not open with another context."""
    key_id, sealed = ring.seal(SECRET, context=CONTEXT)
    with pytest.raises(DecryptionFailed):
        ring.open(key_id, sealed, context=context)


def test_unknown_key_id_is_a_decryption_failure(ring: KeyRing) -> None:
    """A key id that is not in the ring raises DecryptionFailed, naming the id."""
    _, sealed = ring.seal(SECRET, context=CONTEXT)
    with pytest.raises(DecryptionFailed, match="k9"):
        ring.open("k9", sealed, context=CONTEXT)


def test_the_wrong_known_key_fails(ring: KeyRing) -> None:
    """A value sealed under k2 but labelled k1 does not open."""
    _, sealed = ring.seal(SECRET, context=CONTEXT)
    with pytest.raises(DecryptionFailed):
        ring.open("k1", sealed, context=CONTEXT)


def test_the_key_id_is_authenticated() -> None:
    """The same key under another name does not open the value: the id is bound to it."""
    key_id, sealed = KeyRing([("old", K1)]).seal(SECRET, context=CONTEXT)
    with pytest.raises(DecryptionFailed):
        KeyRing([("new", K1)]).open("new", sealed, context=CONTEXT)
    assert key_id == "old"


@pytest.mark.parametrize(
    ("key_id", "sealed", "context"),
    [
        (7, b"x" * 40, CONTEXT),
        ("k2", "text" * 10, CONTEXT),
        ("k2", b"x" * 40, "ctx"),
        (None, None, None),
    ],
)
def test_wrong_types_are_decryption_failures(
    ring: KeyRing, key_id: object, sealed: object, context: object
) -> None:
    """Values of the wrong type raise DecryptionFailed, not a library error."""
    with pytest.raises(DecryptionFailed):
        ring.open(key_id, sealed, context=context)  # type: ignore[arg-type]


@given(sealed=st.binary(max_size=100), context=st.binary(max_size=20))
def test_garbage_only_ever_raises_decryption_failed(sealed: bytes, context: bytes) -> None:
    """Arbitrary bytes never open and never raise anything but DecryptionFailed."""
    with pytest.raises(DecryptionFailed):
        KeyRing([("k1", K1)]).open("k1", sealed, context=context)


def test_seal_insists_on_an_owner(ring: KeyRing) -> None:
    """Sealing without a context, or with text instead of bytes, is a programming error."""
    with pytest.raises(ValueError, match="context"):
        ring.seal(SECRET, context=b"")
    with pytest.raises(TypeError):
        ring.seal("secret", context=CONTEXT)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ring.seal(SECRET, context="owner")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ([], "no secret key"),
        ([("k1", K1[:16])], "32 bytes"),
        ([("k1", K1 + b"x")], "32 bytes"),
        ([("k1", K1), ("k1", K2)], "twice"),
        ([("k1", K1), ("k2", K1)], "repeats"),
        ([("", K1)], "key id"),
        ([("a:b", K1)], "key id"),
        ([("k" * 33, K1)], "key id"),
        ([("k1", "not bytes")], "bytes"),
    ],
)
def test_bad_rings_are_refused(keys: list[tuple[str, bytes]], message: str) -> None:
    """Empty rings, wrong key sizes, duplicate ids or keys and bad ids raise InvalidKeyConfig."""
    with pytest.raises(InvalidKeyConfig, match=message):
        KeyRing(keys)


def test_repr_shows_ids_never_key_bytes(ring: KeyRing) -> None:
    """repr and str name the keys but contain none of their bytes in any spelling."""
    for shown in (repr(ring), str(ring), f"{ring!r}", repr([ring])):
        assert "k2" in shown
        assert "k1" in shown
        for key in (K1, K2):
            for spelling in (repr(key), key.hex(), b64url(key), base64.b64encode(key).decode()):
                assert spelling not in shown
    assert not hasattr(ring, "__dict__")


def test_key_errors_do_not_show_the_key() -> None:
    """A wrong-size key is reported by id and size, without its bytes or text."""
    short = K1[:31]
    with pytest.raises(InvalidKeyConfig) as info:
        load_keyring(f"k1:{b64url(short)}", Path("/nonexistent/keys"))
    message = str(info.value)
    assert b64url(short) not in message
    assert short.hex() not in message
    assert "31" in message


def test_keys_from_the_environment(tmp_path: Path) -> None:
    """OTPGATE_SECRET_KEYS text gives the ring in order, padded or not; no file is made."""
    key_file = tmp_path / "secret.keys"
    ring = load_keyring(f" k2:{b64url(K2)} ,\nk1:{b64url(K1, pad=True)}\n", key_file)
    assert ring.ids == ("k2", "k1")
    assert ring.primary_id == "k2"
    assert not key_file.exists()
    _, sealed = KeyRing([("k1", K1)]).seal(SECRET, context=CONTEXT)
    assert ring.open("k1", sealed, context=CONTEXT) == SECRET


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("k1", "id:base64url-key"),
        (f"k1{b64url(K1)}", "id:base64url-key"),
        ("k1:not*base64!", "base64url"),
        (f"k1:{b64url(K1)}$", "base64url"),
        (f"k 1:{b64url(K1)}", "key id"),
        (f":{b64url(K1)}", "key id"),
        (" , ,", "no key"),
        (f"k1:{b64url(K1[:20])}", "32 bytes"),
        (f"k1:{b64url(K1)},k1:{b64url(K2)}", "twice"),
    ],
)
def test_bad_environment_keys_are_refused(tmp_path: Path, text: str, message: str) -> None:
    """Malformed OTPGATE_SECRET_KEYS raises InvalidKeyConfig naming the variable, not the key."""
    with pytest.raises(InvalidKeyConfig, match=message) as info:
        load_keyring(text, tmp_path / "secret.keys")
    assert b64url(K1) not in str(info.value)
    assert "\n" not in str(info.value)


@given(text=st.text(max_size=200).filter(lambda t: t.strip() != ""))
def test_any_environment_text_gives_a_ring_or_invalid_key_config(text: str) -> None:
    """Whatever OTPGATE_SECRET_KEYS holds, the outcome is a KeyRing or InvalidKeyConfig."""
    try:
        ring = load_keyring(text, Path("/nonexistent/secret.keys"))
    except InvalidKeyConfig:
        return
    assert ring.ids


def test_key_file_is_created_private(tmp_path: Path, open_umask: None) -> None:
    """With no keys configured, a key file with one key is created 0600 in a 0700 directory."""
    key_file = tmp_path / "home" / "secret.keys"
    ring = load_keyring("", key_file)
    assert mode_of(key_file) == 0o600
    assert mode_of(key_file.parent) == 0o700
    assert len(ring.ids) == 1
    assert ring.primary_id in key_file.read_text()
    assert [p.name for p in key_file.parent.iterdir()] == ["secret.keys"]


def test_key_file_is_reused(tmp_path: Path) -> None:
    """A second load reads the same key: what one process sealed, the next opens."""
    key_file = tmp_path / "secret.keys"
    key_id, sealed = load_keyring("", key_file).seal(SECRET, context=CONTEXT)
    again = load_keyring("", key_file)
    assert again.ids == (key_id,)
    assert again.open(key_id, sealed, context=CONTEXT) == SECRET


def test_environment_keys_win_over_the_file(tmp_path: Path) -> None:
    """When OTPGATE_SECRET_KEYS is set, an existing key file is ignored."""
    key_file = tmp_path / "secret.keys"
    load_keyring("", key_file)
    assert load_keyring(f"env:{b64url(K1)}", key_file).ids == ("env",)


def test_hand_written_key_file_with_comments(tmp_path: Path) -> None:
    """A key file may hold comments and one key per line, first line primary."""
    key_file = tmp_path / "secret.keys"
    key_file.write_text(f"# mine\nk2:{b64url(K2)}\n\n# old, k9:x\nk1:{b64url(K1)}\n")
    key_file.chmod(0o600)
    assert load_keyring("", key_file).ids == ("k2", "k1")


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620, 0o602, 0o660, 0o644, 0o700 | 0o007])
def test_a_key_file_others_can_reach_is_refused(tmp_path: Path, mode: int) -> None:
    """A key file with any group or other permission bit is refused with a chmod hint."""
    key_file = tmp_path / "secret.keys"
    load_keyring("", key_file)
    key_file.chmod(mode)
    with pytest.raises(InvalidKeyConfig, match="chmod 600") as info:
        load_keyring("", key_file)
    assert f"{mode:04o}" in str(info.value)
    with pytest.raises(InvalidKeyConfig):
        add_key_to_file(key_file)


def test_an_owner_only_file_is_accepted(tmp_path: Path) -> None:
    """Mode 0400 (read-only for the owner) is fine."""
    key_file = tmp_path / "secret.keys"
    load_keyring("", key_file)
    key_file.chmod(0o400)
    assert len(load_keyring("", key_file).ids) == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "no key"),
        (b"# only a comment\n", "no key"),
        (b"\xff\xfe", "UTF-8"),
        (b"k1:AAAA\n", "32 bytes"),
        (b"k1:" + b"A" * 2_000_000, "too large"),
    ],
)
def test_a_broken_key_file_is_refused(tmp_path: Path, content: bytes, message: str) -> None:
    """An empty, binary or malformed key file raises InvalidKeyConfig naming the file."""
    key_file = tmp_path / "secret.keys"
    key_file.write_bytes(content)
    key_file.chmod(0o600)
    with pytest.raises(InvalidKeyConfig, match=message) as info:
        load_keyring("", key_file)
    assert "secret.keys" in str(info.value)


def test_a_directory_is_not_a_key_file(tmp_path: Path) -> None:
    """A key file path that is a directory is refused."""
    key_dir = tmp_path / "secret.keys"
    key_dir.mkdir(mode=0o700)
    with pytest.raises(InvalidKeyConfig, match="regular file"):
        load_keyring("", key_dir)


def test_rotation_keeps_old_values_readable(tmp_path: Path, open_umask: None) -> None:
    """After add_key_to_file the new key is primary and the old value still opens."""
    key_file = tmp_path / "secret.keys"
    old_ring = load_keyring("", key_file)
    old_id, sealed = old_ring.seal(SECRET, context=CONTEXT)

    new_id = add_key_to_file(key_file)

    ring = load_keyring("", key_file)
    assert new_id != old_id
    assert ring.primary_id == new_id
    assert ring.ids == (new_id, old_id)
    assert ring.open(old_id, sealed, context=CONTEXT) == SECRET
    assert ring.seal(SECRET, context=CONTEXT)[0] == new_id
    assert mode_of(key_file) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secret.keys"]


def test_after_rotation_the_old_key_can_go(tmp_path: Path) -> None:
    """Re-sealed under the new key, a value opens in a ring without the old key."""
    key_file = tmp_path / "secret.keys"
    old_id, sealed = load_keyring("", key_file).seal(SECRET, context=CONTEXT)
    new_id = add_key_to_file(key_file)
    ring = load_keyring("", key_file)
    resealed_id, resealed = ring.seal(ring.open(old_id, sealed, context=CONTEXT), context=CONTEXT)

    lines = key_file.read_text().splitlines()
    key_file.write_text("\n".join(line for line in lines if not line.startswith(old_id)))
    trimmed = load_keyring("", key_file)
    assert trimmed.ids == (new_id,)
    assert trimmed.open(resealed_id, resealed, context=CONTEXT) == SECRET
    with pytest.raises(DecryptionFailed):
        trimmed.open(old_id, sealed, context=CONTEXT)


def test_repeated_rotation_keeps_every_key(tmp_path: Path) -> None:
    """Three rotations leave four distinct keys, newest first."""
    key_file = tmp_path / "secret.keys"
    first = load_keyring("", key_file).primary_id
    added = [add_key_to_file(key_file) for _ in range(3)]
    assert load_keyring("", key_file).ids == (added[2], added[1], added[0], first)


def test_rotation_creates_a_missing_file(tmp_path: Path) -> None:
    """add_key_to_file on a fresh home creates the key file with that key."""
    key_file = tmp_path / "new" / "secret.keys"
    key_id = add_key_to_file(key_file)
    assert load_keyring("", key_file).ids == (key_id,)
    assert mode_of(key_file) == 0o600


def test_new_keys_are_random_aes256_keys() -> None:
    """new_key gives 32 fresh random bytes each call."""
    keys = {new_key() for _ in range(10)}
    assert len(keys) == 10
    assert all(len(key) == 32 for key in keys)


def test_concurrent_first_starts_agree_on_one_key(tmp_path: Path) -> None:
    """Many workers creating the key file at once all end up with the same single key."""
    key_file = tmp_path / "home" / "secret.keys"
    with ThreadPoolExecutor(max_workers=8) as pool:
        rings = list(pool.map(lambda _: load_keyring("", key_file), range(32)))
    assert len({ring.ids for ring in rings}) == 1
    assert len(rings[0].ids) == 1
    assert [p.name for p in key_file.parent.iterdir()] == ["secret.keys"]


def test_keyed_hash_is_an_hmac_under_a_derived_key_per_purpose() -> None:
    """The keyed hash depends on the key, the purpose and the data, is neither a plain
    SHA-256 nor an HMAC under the AES key itself, and any ring holding the key agrees."""
    import hashlib
    import hmac

    ring = KeyRing([("k1", K1), ("k2", K2)])
    digest = ring.keyed_hash("recovery-code", b"abcd-efgh-ijkm")
    assert digest == ring.keyed_hash("recovery-code", b"abcd-efgh-ijkm", key_id="k1")
    assert digest == KeyRing([("k0", K2), ("k1", K1)]).keyed_hash(
        "recovery-code", b"abcd-efgh-ijkm", key_id="k1"
    )
    others = {
        ring.keyed_hash("recovery-code", b"abcd-efgh-ijkm", key_id="k2"),
        ring.keyed_hash("another-purpose", b"abcd-efgh-ijkm"),
        ring.keyed_hash("recovery-code", b"abcd-efgh-ijkn"),
        hashlib.sha256(b"abcd-efgh-ijkm").hexdigest(),
        hmac.new(K1, b"abcd-efgh-ijkm", hashlib.sha256).hexdigest(),
    }
    assert digest not in others and len(others) == 5
    assert len(bytes.fromhex(digest)) == 32


def test_keyed_hash_refuses_an_unknown_key_and_bad_types() -> None:
    """An id not in the ring is DecryptionFailed; a str value or empty purpose TypeError."""
    ring = KeyRing([("k1", K1)])
    with pytest.raises(DecryptionFailed):
        ring.keyed_hash("recovery-code", b"x", key_id="gone")
    with pytest.raises(TypeError):
        ring.keyed_hash("recovery-code", "x")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ring.keyed_hash("", b"x")
