"""The systemd unit files shipped in the package (``otpgate/systemd/*.service``)."""

from __future__ import annotations

from importlib.resources import files

__all__ = ["UNIT_NAMES", "shipped_unit"]

UNIT_NAMES = ("otpgate.service", "otpgate-pam.service")


def shipped_unit(name: str) -> list[str]:
    """The lines of the shipped unit ``name``."""
    if name not in UNIT_NAMES:
        raise ValueError(f"no shipped unit {name!r}")
    return (files("otpgate") / "systemd" / name).read_text(encoding="utf-8").splitlines()
