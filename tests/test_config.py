"""Settings from ``OTPGATE_*`` variables: defaults, casts, and refusals naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from otpgate.config import ConfigError, Settings


def test_no_variable_gives_the_documented_defaults() -> None:
    """An empty environment gives SHA1/6/30, ±1 step and an embedded SQLite file."""
    settings = Settings.from_env({})
    assert (settings.otp_algorithm, settings.otp_digits, settings.otp_period) == ("SHA1", 6, 30)
    assert settings.otp_window == 1
    assert settings.effective_database_url.startswith("sqlite:///")
    assert settings.effective_database_url.endswith("otpgate-data/otpgate.db")


def test_values_are_cast_and_algorithm_names_case_folded(tmp_path: Path) -> None:
    """Numbers are parsed, booleans read, and "sha256" means SHA256."""
    settings = Settings.from_env(
        {
            "OTPGATE_HOME": str(tmp_path),
            "OTPGATE_OTP_ALGORITHM": "sha256",
            "OTPGATE_OTP_DIGITS": "8",
            "OTPGATE_OTP_PERIOD": "60",
            "OTPGATE_COOKIE_SECURE": "yes",
        }
    )
    assert (settings.otp_algorithm, settings.otp_digits, settings.otp_period) == ("SHA256", 8, 60)
    assert settings.cookie_secure is True
    assert settings.home == tmp_path


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("OTPGATE_OTP_ALGORITHM", "MD5", "one of SHA1, SHA256, SHA512"),
        ("OTPGATE_OTP_DIGITS", "12", "at most 10"),
        ("OTPGATE_OTP_DIGITS", "5", "at least 6"),
        ("OTPGATE_OTP_PERIOD", "0", "at least 1"),
        ("OTPGATE_OTP_WINDOW", "one", "must be an integer"),
        ("OTPGATE_COOKIE_SECURE", "maybe", "true or false"),
    ],
)
def test_an_unusable_value_is_refused_with_the_variable_named(
    name: str, value: str, words: str
) -> None:
    """Each bad value raises ConfigError with one line that names the variable."""
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({name: value})
    message = str(caught.value)
    assert name in message and words in message and "\n" not in message


def test_the_smtp_password_and_keys_never_show_in_repr() -> None:
    """Secrets given as settings are kept out of repr (logs, tracebacks)."""
    settings = Settings.from_env(
        {
            "OTPGATE_SECRET_KEYS": "k1:" + "A" * 43,
            "OTPGATE_SMTP_HOST": "smtp.example.org",
            "OTPGATE_SMTP_FROM": "otpgate@example.org",
            "OTPGATE_SMTP_PASSWORD": "hunter2-very-secret",
        }
    )
    assert "hunter2-very-secret" not in repr(settings)
    assert "A" * 43 not in repr(settings)
