"""The security layer's errors and its place among the layers."""

from __future__ import annotations

import subprocess
import sys

import pytest

import otpgate.security as security
from otpgate.security import (
    DecryptionFailed,
    InvalidKeyConfig,
    InvalidPasswordHash,
    MalformedToken,
    PasswordMismatch,
    SecurityError,
    WeakPassword,
)


@pytest.mark.parametrize(
    "error",
    [
        DecryptionFailed,
        InvalidKeyConfig,
        PasswordMismatch,
        InvalidPasswordHash,
        WeakPassword,
        MalformedToken,
    ],
)
def test_every_error_is_a_security_error(error: type[Exception]) -> None:
    """All errors share the never-raised root SecurityError."""
    assert issubclass(error, SecurityError)
    assert error is not SecurityError


@pytest.mark.parametrize("error", [InvalidKeyConfig, WeakPassword, MalformedToken])
def test_bad_value_errors_are_value_errors(error: type[Exception]) -> None:
    """Errors about a bad value are also ValueError."""
    assert issubclass(error, ValueError)


def test_failures_to_verify_or_open_are_not_value_errors() -> None:
    """A wrong password or a failed open is a verdict, not a bad value."""
    assert not issubclass(PasswordMismatch, ValueError)
    assert not issubclass(DecryptionFailed, ValueError)
    assert issubclass(InvalidPasswordHash, PasswordMismatch)


def test_everything_in_all_is_exported() -> None:
    """Every name in __all__ exists, and the contract's names are there."""
    for name in security.__all__:
        assert hasattr(security, name), name
    assert {
        "KeyRing",
        "load_keyring",
        "add_key_to_file",
        "PasswordHasher",
        "check_password_strength",
        "new_token",
        "hash_token",
        "new_recovery_code",
        "normalise_recovery_code",
        "hash_recovery_code",
        "tokens_equal",
    } <= set(security.__all__)


def test_security_imports_no_higher_layer() -> None:
    """Importing otpgate.security loads neither the database, service, web nor config code."""
    probe = (
        "import sys, otpgate.security; "
        "print(sorted(m for m in sys.modules if m.startswith(('otpgate.', 'sqlalchemy', "
        "'starlette', 'fastapi'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    ).stdout
    for forbidden in (
        "otpgate.store",
        "otpgate.service",
        "otpgate.web",
        "otpgate.cli",
        "otpgate.config",
        "sqlalchemy",
        "starlette",
        "fastapi",
    ):
        assert f"'{forbidden}" not in loaded
    assert "'otpgate.security.secretbox'" in loaded
