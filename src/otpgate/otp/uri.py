"""``otpauth://`` URIs (the Key Uri Format read by authenticator apps).

:func:`build_uri` writes what every app reads alike: label ``Issuer:account``, both
percent-encoded (no raw space, ``+`` or ``#``), an upper-case ``algorithm``, a base32
secret without padding, and the default parameters (SHA1, 6 digits, 30 s) *omitted*,
because some apps ignore them anyway. :func:`parse_uri` is strict: each malformed input
gets an :class:`InvalidUri` naming the problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final, Literal
from urllib.parse import quote, unquote

from otpgate.otp._params import (
    MAX_KEY_BYTES,
    MIN_KEY_BYTES,
    Algorithm,
    check_algorithm,
    check_counter,
    check_digits,
    check_period,
)
from otpgate.otp._uri_text import check_image, check_label_part
from otpgate.otp.errors import InvalidSecret, InvalidUri, OtpError
from otpgate.otp.hotp import Hotp
from otpgate.otp.secrets import b32decode, b32encode
from otpgate.otp.totp import Totp

__all__ = ["Kind", "OtpUri", "build_uri", "parse_uri"]

Kind = Literal["totp", "hotp"]

MAX_URI_LENGTH: Final = 4096
_SCHEME: Final = "otpauth://"
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_NUMBER = re.compile(r"[0-9]{1,20}")
_KNOWN: Final = ("secret", "issuer", "algorithm", "digits", "period", "counter", "image")


@dataclass(frozen=True, slots=True, kw_only=True)
class OtpUri:
    """The content of an ``otpauth://`` URI; always valid once constructed.

    ``counter`` is the initial counter of an ``hotp`` URI and None for ``totp``;
    ``period`` is meaningful for ``totp`` only. The secret is not shown by ``repr``.
    """

    kind: Kind
    secret: bytes = field(repr=False)
    issuer: str | None
    account: str
    algorithm: Algorithm = "SHA1"
    digits: int = 6
    period: int = 30
    counter: int | None = None
    image: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("totp", "hotp"):
            raise InvalidUri(f"unknown OTP type {self.kind!r}: expected totp or hotp")
        if not isinstance(self.secret, bytes) or not 0 < len(self.secret) <= MAX_KEY_BYTES:
            raise InvalidSecret(f"the secret must be 1 to {MAX_KEY_BYTES} bytes")
        if self.issuer is not None:
            check_label_part(self.issuer, "issuer")
        check_label_part(self.account, "account")
        object.__setattr__(self, "algorithm", check_algorithm(self.algorithm))
        check_digits(self.digits)
        check_period(self.period)
        if self.kind == "hotp":
            check_counter(self.counter)
        elif self.counter is not None:
            raise InvalidUri("a totp URI has no counter")
        if self.image is not None:
            check_image(self.image)

    @property
    def secret_b32(self) -> str:
        """The secret as base32 without padding."""
        return b32encode(self.secret)

    def to_uri(self) -> str:
        """This URI as text, in the canonical form :func:`build_uri` writes."""
        parts = [_encode(self.issuer) + ":" if self.issuer else "", _encode(self.account)]
        params = [f"secret={self.secret_b32}"]
        if self.issuer:
            params.append(f"issuer={_encode(self.issuer)}")
        if self.algorithm != "SHA1":
            params.append(f"algorithm={self.algorithm}")
        if self.digits != 6:
            params.append(f"digits={self.digits}")
        if self.kind == "totp" and self.period != 30:
            params.append(f"period={self.period}")
        if self.kind == "hotp":
            params.append(f"counter={self.counter}")
        if self.image is not None:
            params.append(f"image={quote(self.image, safe='')}")
        return f"{_SCHEME}{self.kind}/{''.join(parts)}?{'&'.join(params)}"

    def otp(self, *, allow_short_key: bool = False) -> Hotp | Totp:
        """The generator/verifier this URI describes."""
        if self.kind == "hotp":
            return Hotp(self.secret, digits=self.digits, algorithm=self.algorithm,
                        allow_short_key=allow_short_key)
        return Totp(self.secret, digits=self.digits, algorithm=self.algorithm,
                    period=self.period, allow_short_key=allow_short_key)


def build_uri(
    secret: bytes,
    *,
    account: str,
    issuer: str | None = None,
    kind: Kind = "totp",
    algorithm: Algorithm = "SHA1",
    digits: int = 6,
    period: int = 30,
    counter: int | None = None,
    image: str | None = None,
    allow_short_key: bool = False,
) -> str:
    """An ``otpauth://`` URI for ``secret``; defaults are omitted from the text.

    ``account`` and ``issuer`` may not contain ``':'`` (apps split the label there) nor
    control characters. An ``hotp`` URI without ``counter`` starts at 0.
    """
    _check_length(secret, allow_short_key=allow_short_key)
    if kind == "hotp" and counter is None:
        counter = 0
    return OtpUri(kind=kind, secret=secret, issuer=issuer or None, account=account,
                  algorithm=algorithm, digits=digits, period=period, counter=counter,
                  image=image).to_uri()


def parse_uri(text: str, *, allow_short_key: bool = False) -> OtpUri:
    """The fields of an ``otpauth://`` URI; InvalidUri with a precise message otherwise.

    Unknown parameters (some apps add ``color``, ``lock``…) are ignored; known ones
    must appear once and be valid. A raw ``'+'`` in a parameter is refused because
    decoders disagree on whether it means a space.
    """
    try:
        return _parse(text, allow_short_key=allow_short_key)
    except InvalidUri:
        raise
    except OtpError as exc:
        raise InvalidUri(str(exc)) from None


def _parse(text: object, *, allow_short_key: bool) -> OtpUri:
    if not isinstance(text, str):
        raise InvalidUri(f"the URI must be text, not {type(text).__name__}")
    if len(text) > MAX_URI_LENGTH:
        raise InvalidUri(f"the URI is longer than {MAX_URI_LENGTH} characters")
    if any(ch.isspace() or not ch.isprintable() for ch in text):
        raise InvalidUri("the URI contains a space or control character (percent-encode it)")
    if "#" in text:
        raise InvalidUri("the URI contains a raw '#' (percent-encode it as %23)")
    if not text[: len(_SCHEME)].lower() == _SCHEME:
        raise InvalidUri("not an otpauth:// URI")
    kind_text, slash, rest = text[len(_SCHEME) :].partition("/")
    if "?" in kind_text:  # otpauth://totp?secret=… : the label is missing
        kind_text, slash = kind_text.partition("?")[0], ""
    kind = _kind(kind_text)
    if not slash:
        raise InvalidUri("missing label: expected otpauth://TYPE/ISSUER:ACCOUNT?secret=…")
    path, question, query = rest.partition("?")
    if not question or not query:
        raise InvalidUri("missing parameters: expected ?secret=… after the label")
    label_issuer, account = _split_label(_decode(path, "label"))
    params = _parse_query(query)
    issuer = params.get("issuer")
    if issuer is not None and label_issuer is not None and issuer != label_issuer:
        raise InvalidUri(
            f"issuer parameter {_show(issuer)} differs from the label's issuer "
            f"{_show(label_issuer)}"
        )
    return OtpUri(
        kind=kind,
        secret=_secret(params, allow_short_key=allow_short_key),
        issuer=issuer if issuer is not None else label_issuer,
        account=account,
        algorithm=_algorithm(params.get("algorithm", "SHA1")),
        digits=_number(params, "digits", 6),
        period=_period(params, kind),
        counter=_counter(params, kind),
        image=params.get("image"),
    )


def _kind(text: str) -> Kind:
    lower = text.lower()
    if lower == "totp":
        return "totp"
    if lower == "hotp":
        return "hotp"
    raise InvalidUri(f"unknown OTP type {_show(text)}: expected totp or hotp")


def _split_label(label: str) -> tuple[str | None, str]:
    if not label:
        raise InvalidUri("missing label: the account name is empty")
    issuer, colon, account = label.partition(":")
    if not colon:
        return None, label
    if ":" in account:
        raise InvalidUri("the label has more than one ':' (percent-encoding does not help)")
    if not issuer:
        raise InvalidUri("the label has an empty issuer before ':'")
    # The Key Uri Format allows spaces after the colon.
    account = account.lstrip(" ")
    if not account:
        raise InvalidUri("missing account name after the issuer in the label")
    return issuer, account


def _parse_query(query: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in query.split("&"):
        name, equals, raw = item.partition("=")
        if not name or not equals:
            raise InvalidUri(f"malformed parameter {_show(item)}: expected name=value")
        if name not in _KNOWN:
            continue
        if name in params:
            raise InvalidUri(f"parameter {name!r} appears more than once")
        if "+" in raw:
            raise InvalidUri(
                f"parameter {name!r} contains a raw '+' (write %20 for a space, %2B for '+')"
            )
        value = _decode(raw, f"parameter {name!r}")
        if not value:
            raise InvalidUri(f"parameter {name!r} is empty")
        params[name] = value
    return params


def _decode(raw: str, what: str) -> str:
    if _BAD_PERCENT.search(raw):
        raise InvalidUri(f"the {what} has a '%' not followed by two hex digits")
    try:
        return unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise InvalidUri(f"the {what} is not valid UTF-8 once percent-decoded") from None


def _secret(params: dict[str, str], *, allow_short_key: bool) -> bytes:
    text = params.get("secret")
    if text is None:
        raise InvalidUri("missing secret parameter")
    try:
        return b32decode(text, allow_short=allow_short_key)
    except InvalidSecret as exc:
        raise InvalidUri(f"bad secret: {exc}") from None


def _algorithm(text: str) -> Algorithm:
    try:
        return check_algorithm(text)
    except OtpError:
        raise InvalidUri(
            f"unsupported algorithm {_show(text)}: expected SHA1, SHA256 or SHA512"
        ) from None


def _number(params: dict[str, str], name: str, default: int) -> int:
    text = params.get(name)
    if text is None:
        return default
    if _NUMBER.fullmatch(text) is None:
        raise InvalidUri(f"{name} must be a whole number, got {_show(text)}")
    return int(text)


def _period(params: dict[str, str], kind: Kind) -> int:
    if kind == "hotp" and "period" in params:
        raise InvalidUri("an hotp URI has no period (period is for totp)")
    return _number(params, "period", 30)


def _counter(params: dict[str, str], kind: Kind) -> int | None:
    if kind == "totp":
        if "counter" in params:
            raise InvalidUri("a totp URI has no counter (counter is for hotp)")
        return None
    if "counter" not in params:
        raise InvalidUri("missing counter parameter (required for hotp)")
    return _number(params, "counter", 0)


def _check_length(secret: object, *, allow_short_key: bool) -> None:
    if isinstance(secret, bytes) and len(secret) < MIN_KEY_BYTES and not allow_short_key:
        raise InvalidSecret(
            f"the secret has {len(secret) * 8} bits; at least {MIN_KEY_BYTES * 8} are required"
        )


def _encode(text: str) -> str:
    # '@' stays readable (alice@example.com); everything else outside A-Za-z0-9_.-~ is
    # percent-encoded, so there is never a raw space, '+', '#', '/', '?' or ':'.
    return quote(text, safe="@")


def _show(value: str) -> str:
    return repr(value) if len(value) <= 40 else repr(value[:37] + "...")
