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


@pytest.mark.parametrize(
    ("env", "rp_id", "origin"),
    [
        ({"OTPGATE_BASE_URL": "https://auth.example.com"}, "auth.example.com",
         "https://auth.example.com"),
        ({"OTPGATE_BASE_URL": "https://Auth.Example.com:443/portal/"}, "auth.example.com",
         "https://auth.example.com"),
        ({"OTPGATE_BASE_URL": "http://localhost:8000"}, "localhost", "http://localhost:8000"),
        ({"OTPGATE_BASE_URL": "https://auth.example.com:8443",
          "OTPGATE_WEBAUTHN_RP_ID": "example.com"}, "example.com", "https://auth.example.com:8443"),
    ],
)
def test_passkeys_take_rp_id_and_origin_from_the_portal_address(
    env: dict[str, str], rp_id: str, origin: str
) -> None:
    """The RP ID is the base URL's host (or a domain above it); the origin has no path and
    no default port, as browsers write it."""
    passkeys = Settings.from_env(env).passkeys
    assert (passkeys.enabled, passkeys.rp_id, passkeys.origin) == (True, rp_id, origin)


@pytest.mark.parametrize(
    "env",
    [{}, {"OTPGATE_BASE_URL": "http://127.0.0.1:8000"},
     {"OTPGATE_BASE_URL": "http://auth.example.com"}],
)
def test_passkeys_are_off_without_a_usable_address(env: dict[str, str]) -> None:
    """No address, an IP address, or plain http off localhost: passkeys are off, with why."""
    passkeys = Settings.from_env(env).passkeys
    assert not passkeys.enabled and passkeys.off_reason


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"OTPGATE_WEBAUTHN_RP_ID": "example.com"}, "needs OTPGATE_BASE_URL"),
        ({"OTPGATE_BASE_URL": "https://auth.example.com", "OTPGATE_WEBAUTHN_RP_ID": "example.org"},
         "does not match the portal's address"),
        ({"OTPGATE_BASE_URL": "https://auth.example.com",
          "OTPGATE_WEBAUTHN_RP_ID": "ample.com"}, "does not match the portal's address"),
        ({"OTPGATE_BASE_URL": "http://127.0.0.1:8000", "OTPGATE_WEBAUTHN_RP_ID": "127.0.0.1"},
         "not an IP address"),
        ({"OTPGATE_BASE_URL": "http://auth.example.com",
          "OTPGATE_WEBAUTHN_RP_ID": "auth.example.com"}, "https://"),
        ({"OTPGATE_BASE_URL": "ftp://auth.example.com"}, "http:// or https://"),
    ],
)
def test_an_rp_id_that_disagrees_with_the_portal_address_stops_start_up(
    env: dict[str, str], fragment: str
) -> None:
    """An RP ID that browsers would refuse for the portal's address is a ConfigError naming
    the variables, not a passkey ceremony that fails later."""
    with pytest.raises(ConfigError, match="OTPGATE_") as raised:
        Settings.from_env(env)
    assert fragment in str(raised.value)
