"""The OTP core stays pure: standard library (minus clocks and I/O) plus segno, nothing else."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import otpgate.otp

PACKAGE = Path(otpgate.otp.__file__).parent
ALLOWED = {
    "__future__", "base64", "binascii", "collections", "dataclasses", "hashlib", "hmac", "io",
    "re", "secrets", "struct", "typing", "urllib", "segno", "otpgate",
}


def imported_modules(path: Path) -> set[str]:
    """Full names of the modules a source file imports."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_only_allowed_imports() -> None:
    """No clock (time, datetime), no I/O (os, socket, pathlib, logging), no other package."""
    files = sorted(PACKAGE.glob("*.py"))
    assert len(files) >= 8
    for path in files:
        for name in imported_modules(path):
            assert name.split(".")[0] in ALLOWED, f"{path.name} imports {name}"
            if name.startswith("otpgate"):
                assert name.startswith("otpgate.otp"), f"{path.name} imports {name}"


def test_public_api_is_exported() -> None:
    """Every name in otpgate.otp.__all__ exists, and the contract's names are all there."""
    contract = {
        "OtpError", "MalformedCode", "InvalidSecret", "InvalidUri", "UnsupportedAlgorithm",
        "InvalidParameter", "Algorithm", "Hotp", "Totp", "normalise_code", "new_secret",
        "b32encode", "b32decode", "grouped", "OtpUri", "build_uri", "parse_uri", "qr_svg",
        "qr_png", "qr_terminal",
    }
    assert contract <= set(otpgate.otp.__all__)
    for name in otpgate.otp.__all__:
        assert hasattr(otpgate.otp, name), name


def test_import_does_not_load_segno() -> None:
    """Importing the core (as the login path does) loads no QR code library."""
    code = "import sys, otpgate.otp; sys.exit('segno' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False, timeout=60).returncode == 0
