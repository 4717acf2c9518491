"""Password hashing (argon2id) and the rule for new passwords."""

from __future__ import annotations

import argon2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otpgate.security import (
    InvalidPasswordHash,
    PasswordHasher,
    PasswordMismatch,
    WeakPassword,
    check_password_strength,
)

PASSWORD = "correct horse battery staple"


@pytest.fixture
def hasher() -> PasswordHasher:
    """The cheap test profile."""
    return PasswordHasher(time_cost=1, memory_kib=8, parallelism=1)


def test_the_right_password_verifies(hasher: PasswordHasher) -> None:
    """A hash verifies against the password it was made from."""
    assert hasher.verify(hasher.hash(PASSWORD), PASSWORD) is True


@pytest.mark.parametrize(
    "wrong", ["", "correct horse battery stapl", PASSWORD.upper(), PASSWORD + " "]
)
def test_a_wrong_password_is_refused(hasher: PasswordHasher, wrong: str) -> None:
    """Any other password raises PasswordMismatch."""
    with pytest.raises(PasswordMismatch):
        hasher.verify(hasher.hash(PASSWORD), wrong)


def test_hashes_are_argon2id_with_a_fresh_salt(hasher: PasswordHasher) -> None:
    """Two hashes of one password differ and are argon2id with our parameters."""
    first, second = hasher.hash(PASSWORD), hasher.hash(PASSWORD)
    assert first != second
    params = argon2.extract_parameters(first)
    assert params.type is argon2.Type.ID
    assert (params.time_cost, params.memory_cost, params.parallelism) == (1, 8, 1)
    assert PASSWORD not in first


def test_equivalent_unicode_spellings_match(hasher: PasswordHasher) -> None:
    """A password typed precomposed verifies when typed with combining marks (NFKC)."""
    stored = hasher.hash("caf\u00e9 au lait!")
    assert hasher.verify(stored, "cafe\u0301 au lait!") is True


def test_own_hash_needs_no_rehash(hasher: PasswordHasher) -> None:
    """A hash made with the current parameters is up to date."""
    assert hasher.needs_rehash(hasher.hash(PASSWORD)) is False


@pytest.mark.parametrize(
    ("time_cost", "memory_kib", "parallelism"), [(2, 8, 1), (1, 16, 1), (1, 16, 2)]
)
def test_changed_parameters_need_a_rehash(
    hasher: PasswordHasher, time_cost: int, memory_kib: int, parallelism: int
) -> None:
    """A hash made with other parameters is reported as outdated, yet still verifies."""
    old = PasswordHasher(time_cost=time_cost, memory_kib=memory_kib, parallelism=parallelism)
    stored = old.hash(PASSWORD)
    assert hasher.needs_rehash(stored) is True
    assert hasher.verify(stored, PASSWORD) is True
    assert old.needs_rehash(stored) is False


@pytest.mark.parametrize("stored", ["", "not a hash", "$argon2id$v=19$m=8,t=1,p=1$AAAA$"])
def test_an_unreadable_hash_fails_closed(hasher: PasswordHasher, stored: str) -> None:
    """A corrupt stored hash refuses every password and asks for a rehash."""
    with pytest.raises(InvalidPasswordHash) as info:
        hasher.verify(stored, PASSWORD)
    assert isinstance(info.value, PasswordMismatch)
    assert hasher.needs_rehash(stored) is True


def test_dummy_verify_costs_a_real_verification(hasher: PasswordHasher) -> None:
    """The dummy hash carries exactly the parameters real hashes are verified with."""
    dummy = argon2.extract_parameters(hasher._dummy)
    real = argon2.extract_parameters(hasher.hash(PASSWORD))
    assert dummy == real
    hasher.dummy_verify(PASSWORD)


@settings(max_examples=50)
@given(password=st.text(max_size=50))
def test_dummy_verify_never_raises(password: str) -> None:
    """Whatever an unknown user types, dummy_verify returns quietly."""
    hasher = PasswordHasher(time_cost=1, memory_kib=8, parallelism=1)
    hasher.dummy_verify(password)


def test_unhashable_text_is_refused(hasher: PasswordHasher) -> None:
    """Lone surrogates or absurd lengths never reach argon2 and never match."""
    with pytest.raises(WeakPassword):
        hasher.hash("abc\ud800defghijk")
    stored = hasher.hash(PASSWORD)
    with pytest.raises(PasswordMismatch):
        hasher.verify(stored, "abc\ud800defghijk")
    with pytest.raises(PasswordMismatch):
        hasher.verify(stored, "x" * 1_000_000)


def test_impossible_parameters_are_refused() -> None:
    """argon2 parameters below the minimum raise ValueError at construction."""
    with pytest.raises(ValueError, match="argon2"):
        PasswordHasher(time_cost=1, memory_kib=8, parallelism=2)


@pytest.mark.parametrize("password", ["a" * 10, "ten chars!", "p" * 1024, "\u00e9" * 10])
def test_acceptable_passwords_pass(password: str) -> None:
    """Passwords of 10 to 1024 characters are accepted."""
    check_password_strength(password)


@pytest.mark.parametrize(
    "password",
    [
        "",
        "nine char",
        "p" * 1025,
        "p" * 100_000,
        "abc\ud800defghijk",
        None,
        1234567890,
        b"bytes12345",
    ],
)
def test_weak_or_wrong_passwords_are_refused(password: object) -> None:
    """Too short, too long or not text raises WeakPassword with a one-line message."""
    with pytest.raises(WeakPassword) as info:
        check_password_strength(password)
    assert "\n" not in str(info.value)


def test_length_counts_characters_after_normalisation() -> None:
    """Nine letters with combining accents are nine characters, not eighteen."""
    with pytest.raises(WeakPassword):
        check_password_strength("e\u0301" * 9)
