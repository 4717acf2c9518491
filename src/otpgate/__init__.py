"""otpgate: two-factor authentication (TOTP/HOTP) for web admin portals and SSH.

The package root holds the version only, so that ``import otpgate`` stays cheap and
imports no web or database code.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
