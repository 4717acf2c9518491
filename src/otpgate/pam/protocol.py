"""The line protocol between ``pam_otpgate.so`` and ``otpgate pam-daemon``.

One request, one response, then the connection is closed.

Request: one line of ASCII, the four fields in this order, each value hex-encoded
(lower case), so that no byte of a user name or an answer can break the framing::

    otpgate-pam/1 user=<hex> rhost=<hex> service=<hex> answer=<hex>\\n

Bounds, in bytes before encoding: user 1 to 256, rhost 0 to 1024, service 0 to
256, answer 0 to 1024 (the answer's own rules, at most 256 printable ASCII bytes, are checked by the
same code as ``otpgate pam``: a longer one is a refused code, not a protocol error).
Anything else, including bytes after the newline, is a :class:`ProtocolError`.

Response: ``<status> <log line>\\n``, where status is one digit with the meaning of the
helper's exit statuses (0 accepted, 1 refused, 2 bad request, 3 no 2FA for this user,
5 unavailable) and the log line, printable ASCII, says why without the code.
"""

from __future__ import annotations

import re

from otpgate.pam.errors import ProtocolError
from otpgate.pam.helper import CheckRequest, Verdict

__all__ = [
    "MAX_REQUEST_BYTES",
    "MAX_RESPONSE_BYTES",
    "VERSION",
    "encode_request",
    "encode_response",
    "parse_request",
]

VERSION = b"otpgate-pam/1"
MAX_USER, MAX_RHOST, MAX_SERVICE, MAX_ANSWER = 256, 1024, 256, 1024
MAX_REQUEST_BYTES = len(VERSION) + 40 + 2 * (MAX_USER + MAX_RHOST + MAX_SERVICE + MAX_ANSWER)
MAX_RESPONSE_BYTES = 512
_MAX_MESSAGE = MAX_RESPONSE_BYTES - 3

_REQUEST = re.compile(
    rb"otpgate-pam/1"
    rb" user=((?:[0-9a-f]{2}){1,%d})" % MAX_USER
    + rb" rhost=((?:[0-9a-f]{2}){0,%d})" % MAX_RHOST
    + rb" service=((?:[0-9a-f]{2}){0,%d})" % MAX_SERVICE
    + rb" answer=((?:[0-9a-f]{2}){0,%d})\n" % MAX_ANSWER
)


def _text(raw: bytes) -> str:
    # As the helper sees its environment: UTF-8, undecodable bytes kept as surrogates.
    return raw.decode("utf-8", "surrogateescape")


def parse_request(line: bytes) -> CheckRequest:
    """The check a request line asks for; :class:`ProtocolError` if it is not exactly one."""
    if len(line) > MAX_REQUEST_BYTES:
        raise ProtocolError(f"request longer than {MAX_REQUEST_BYTES} bytes")
    if not line.startswith(VERSION + b" "):
        raise ProtocolError("not an otpgate-pam/1 request")
    found = _REQUEST.fullmatch(line)
    if found is None:
        raise ProtocolError("malformed request line")
    user, rhost, service, answer = (bytes.fromhex(field.decode()) for field in found.groups())
    if b"\x00" in user + rhost + service:
        raise ProtocolError("NUL byte in a field")
    return CheckRequest(_text(user), _text(rhost), _text(service), answer)


def encode_request(request: CheckRequest) -> bytes:
    """The request line for ``request`` (what the C module sends; used by tests and tools)."""
    fields = (
        request.system_user.encode("utf-8", "surrogateescape"),
        request.rhost.encode("utf-8", "surrogateescape"),
        request.service.encode("utf-8", "surrogateescape"),
        request.answer,
    )
    user, rhost, service, answer = (field.hex() for field in fields)
    return b"%s user=%s rhost=%s service=%s answer=%s\n" % (
        VERSION, user.encode(), rhost.encode(), service.encode(), answer.encode()
    )


def encode_response(verdict: Verdict) -> bytes:
    """``<status> <message>\\n``, the message cut to printable ASCII that fits the bound."""
    if not 0 <= verdict.status <= 9:
        raise ValueError("status must be one digit")
    message = "".join(ch if " " <= ch <= "~" else "?" for ch in verdict.message)
    return f"{verdict.status} {message[:_MAX_MESSAGE]}\n".encode("ascii")
