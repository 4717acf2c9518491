"""The OTP core: HOTP (RFC 4226), TOTP (RFC 6238), secrets, otpauth:// URIs, QR codes.

Pure functions and objects: no clock (time is an argument), no I/O, no state between
calls, nothing imported from the rest of otpgate. What this layer does *not* do, on
purpose: remember used codes (replay protection), count failures (throttling), store
secrets. Those are the service layer's job; :meth:`Totp.match` returns the matched step
so that it can do them.

>>> totp = Totp(b"12345678901234567890", digits=8)
>>> totp.generate_at(59)
'94287082'
>>> totp.match("9428 7082", 59)
1
"""

from __future__ import annotations

from otpgate.otp._params import Algorithm
from otpgate.otp.codes import normalise_code
from otpgate.otp.errors import (
    InvalidParameter,
    InvalidSecret,
    InvalidUri,
    MalformedCode,
    OtpError,
    UnsupportedAlgorithm,
)
from otpgate.otp.hotp import Hotp
from otpgate.otp.qr import qr_png, qr_svg, qr_terminal
from otpgate.otp.secrets import (
    DEFAULT_SECRET_BYTES,
    MIN_SECRET_BYTES,
    b32decode,
    b32encode,
    grouped,
    new_secret,
)
from otpgate.otp.totp import Totp
from otpgate.otp.uri import Kind, OtpUri, build_uri, parse_uri

__all__ = [
    "DEFAULT_SECRET_BYTES",
    "MIN_SECRET_BYTES",
    "Algorithm",
    "Hotp",
    "InvalidParameter",
    "InvalidSecret",
    "InvalidUri",
    "Kind",
    "MalformedCode",
    "OtpError",
    "OtpUri",
    "Totp",
    "UnsupportedAlgorithm",
    "b32decode",
    "b32encode",
    "build_uri",
    "grouped",
    "new_secret",
    "normalise_code",
    "parse_uri",
    "qr_png",
    "qr_svg",
    "qr_terminal",
]
