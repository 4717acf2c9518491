"""OTPGATE_AUDIT_RETENTION_DAYS: forever by default, else at least 90 days."""

from __future__ import annotations

import pytest

from otpgate.config import ConfigError, Settings


def test_audit_is_kept_forever_by_default() -> None:
    """No variable (or 0) means audit rows are never deleted."""
    assert Settings.from_env({}).audit_retention_days == 0
    assert Settings.from_env({"OTPGATE_AUDIT_RETENTION_DAYS": "0"}).audit_retention_days == 0
    env = {"OTPGATE_AUDIT_RETENTION_DAYS": "365"}
    assert Settings.from_env(env).audit_retention_days == 365


@pytest.mark.parametrize("value", ["30", "-1", "a year"])
def test_a_retention_shorter_than_the_new_device_window_is_refused(value: str) -> None:
    """Below 90 days the new-device e-mails would lose their memory: a one-line error."""
    with pytest.raises(ConfigError, match="OTPGATE_AUDIT_RETENTION_DAYS"):
        Settings.from_env({"OTPGATE_AUDIT_RETENTION_DAYS": value})
