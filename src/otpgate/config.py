"""Settings: read once from ``OTPGATE_*`` environment variables at the edge, passed down.

Nothing below the adapters reads the environment; they receive a :class:`Settings`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from otpgate.relying_party import RelyingParty, relying_party

__all__ = ["ConfigError", "Settings"]


class ConfigError(ValueError):
    """A setting has a value that cannot be used; the message names the variable."""


def _int(
    env: Mapping[str, str], name: str, default: int, minimum: int = 0, *, maximum: int | None = None
) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name} must be at most {maximum}, got {value}")
    return value


def _choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = _str(env, name, default).upper()
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _str(env: Mapping[str, str], name: str, default: str) -> str:
    raw = env.get(name)
    return default if raw is None or raw.strip() == "" else raw.strip()


_LABEL = r"[a-z0-9]([a-z0-9-]*[a-z0-9])?"
_DOMAIN = re.compile(rf"(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*")


def _domain(env: Mapping[str, str], name: str) -> str:
    # Goes into a Set-Cookie header: only a plain host name may pass.
    raw = _str(env, name, "").lower().removeprefix(".")
    if raw and not _DOMAIN.fullmatch(raw):
        raise ConfigError(f"{name} must be a domain name like example.com, got {raw!r}")
    return raw


def _path(env: Mapping[str, str], name: str) -> Path | None:
    raw = _str(env, name, "")
    return Path(raw) if raw else None


@dataclass(frozen=True)
class Settings:
    """Every tunable of otpgate, with production defaults.

    Defaults and why (see README "Configuration"):
    step-up lasts 5 minutes (Odoo: 10), trusted devices 30 days (Odoo: 90),
    10 recovery codes of 60 bits (Keycloak: 12 of ~61 bits), pending enrolments expire
    after 10 minutes.
    """

    home: Path = Path("otpgate-data")
    database_url: str = ""
    secret_keys: str = field(default="", repr=False)
    issuer: str = "otpgate"
    # OTP parameters of new authenticators: the defaults every app honours.
    otp_algorithm: str = "SHA1"
    otp_digits: int = 6
    otp_period: int = 30
    otp_window: int = 1
    hotp_look_ahead: int = 10
    # HOTP resynchronisation: how far past the last counter two consecutive codes are sought.
    hotp_resync_window: int = 200
    # Admin-issued one-time bypass codes (lost phone) stay valid this long.
    bypass_code_minutes: int = 15
    # Password hashing (argon2id): RFC 9106's second recommended option.
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 4
    step_up_seconds: int = 300
    pending_enrolment_seconds: int = 600
    trusted_device_days: int = 30
    recovery_code_count: int = 10
    session_seconds: int = 12 * 3600
    session_idle_seconds: int = 3600
    half_login_seconds: int = 300
    cookie_secure: bool = False
    trust_proxy_headers: bool = False
    base_url: str = ""
    # Domain attribute of the session cookie ("example.com": one login serves every
    # subdomain); empty = host-only cookie. Protected sites: a TOML file (see sites.py).
    cookie_domain: str = ""
    sites_file: Path | None = None
    # Branding of the portal's pages: the name in the header and title, an accent colour
    # (#rrggbb, at least 4.5:1 against white) and a logo (SVG or PNG file).
    product_name: str = "otpgate"
    accent_color: str = ""
    logo_file: Path | None = None
    # Security e-mails: off unless a host is set. Port 0 = the usual port of the mode
    # (25 none, 587 starttls, 465 tls).
    smtp_host: str = ""
    smtp_port: int = 0
    smtp_security: str = "starttls"
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_from: str = ""
    smtp_timeout: int = 10
    # Audit rows older than this many days are deleted by the retention purge; 0 = never.
    audit_retention_days: int = 0
    # Bearer token of GET /metrics; empty: no metrics are kept or served.
    metrics_token: str = field(default="", repr=False)
    # Passkeys (WebAuthn): RP ID and origin from base_url; off without a usable address.
    passkeys: RelyingParty = field(default_factory=RelyingParty)

    @property
    def smtp_configured(self) -> bool:
        """True when security e-mails are to be sent (an SMTP host is set)."""
        return bool(self.smtp_host)

    @property
    def effective_smtp_port(self) -> int:
        """The configured SMTP port, or the usual one of the security mode."""
        if self.smtp_port:
            return self.smtp_port
        return {"none": 25, "tls": 465}.get(self.smtp_security, 587)

    @property
    def effective_database_url(self) -> str:
        """The configured URL, or an embedded SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'otpgate.db').resolve()}"

    @property
    def key_file(self) -> Path:
        return self.home / "secret.keys"

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read ``OTPGATE_*`` variables; an unusable value raises :class:`ConfigError`."""
        e = os.environ if env is None else env
        d = cls()
        base_url = _str(e, "OTPGATE_BASE_URL", "")
        try:
            passkeys = relying_party(e, base_url)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        return cls(
            home=Path(_str(e, "OTPGATE_HOME", str(d.home))),
            database_url=_str(e, "OTPGATE_DATABASE_URL", ""),
            secret_keys=_str(e, "OTPGATE_SECRET_KEYS", ""),
            issuer=_str(e, "OTPGATE_ISSUER", d.issuer),
            otp_algorithm=_choice(
                e, "OTPGATE_OTP_ALGORITHM", d.otp_algorithm, ("SHA1", "SHA256", "SHA512")
            ),
            otp_digits=_int(e, "OTPGATE_OTP_DIGITS", d.otp_digits, 6, maximum=10),
            otp_period=_int(e, "OTPGATE_OTP_PERIOD", d.otp_period, 1),
            otp_window=_int(e, "OTPGATE_OTP_WINDOW", d.otp_window, 0),
            hotp_look_ahead=_int(e, "OTPGATE_HOTP_LOOK_AHEAD", d.hotp_look_ahead, 0),
            hotp_resync_window=_int(e, "OTPGATE_HOTP_RESYNC_WINDOW", d.hotp_resync_window, 1),
            bypass_code_minutes=_int(e, "OTPGATE_BYPASS_CODE_MINUTES", d.bypass_code_minutes, 1),
            argon2_time_cost=_int(e, "OTPGATE_ARGON2_TIME_COST", d.argon2_time_cost, 1),
            argon2_memory_kib=_int(e, "OTPGATE_ARGON2_MEMORY_KIB", d.argon2_memory_kib, 8),
            argon2_parallelism=_int(e, "OTPGATE_ARGON2_PARALLELISM", d.argon2_parallelism, 1),
            step_up_seconds=_int(e, "OTPGATE_STEP_UP_SECONDS", d.step_up_seconds, 1),
            pending_enrolment_seconds=_int(
                e, "OTPGATE_PENDING_ENROLMENT_SECONDS", d.pending_enrolment_seconds, 1
            ),
            trusted_device_days=_int(e, "OTPGATE_TRUSTED_DEVICE_DAYS", d.trusted_device_days, 0),
            recovery_code_count=_int(e, "OTPGATE_RECOVERY_CODES", d.recovery_code_count, 1),
            session_seconds=_int(e, "OTPGATE_SESSION_SECONDS", d.session_seconds, 60),
            session_idle_seconds=_int(
                e, "OTPGATE_SESSION_IDLE_SECONDS", d.session_idle_seconds, 60
            ),
            half_login_seconds=_int(e, "OTPGATE_HALF_LOGIN_SECONDS", d.half_login_seconds, 30),
            cookie_secure=_bool(e, "OTPGATE_COOKIE_SECURE", d.cookie_secure),
            trust_proxy_headers=_bool(e, "OTPGATE_TRUST_PROXY_HEADERS", d.trust_proxy_headers),
            base_url=base_url,
            passkeys=passkeys,
            cookie_domain=_domain(e, "OTPGATE_COOKIE_DOMAIN"),
            sites_file=_path(e, "OTPGATE_SITES_FILE"),
            audit_retention_days=_retention_days(e, "OTPGATE_AUDIT_RETENTION_DAYS"),
            metrics_token=_metrics_token(e),
            **_smtp(e),
            **_branding(e),
        )


# New-device e-mails compare a sign-in with the last 90 days of the audit log.
_MIN_AUDIT_RETENTION_DAYS = 90


def _retention_days(env: Mapping[str, str], name: str) -> int:
    days = _int(env, name, 0, 0)
    if 0 < days < _MIN_AUDIT_RETENTION_DAYS:
        raise ConfigError(
            f"{name} must be 0 (keep forever) or at least {_MIN_AUDIT_RETENTION_DAYS} "
            f"(new-device e-mails look back {_MIN_AUDIT_RETENTION_DAYS} days), got {days}"
        )
    return days


def _metrics_token(env: Mapping[str, str]) -> str:
    token = _str(env, "OTPGATE_METRICS_TOKEN", "")
    if token and (len(token) < 16 or not token.isascii() or not token.isprintable()):
        raise ConfigError(
            "OTPGATE_METRICS_TOKEN must be at least 16 printable ASCII characters"
        )
    return token


_SMTP_SECURITY = ("none", "starttls", "tls")


def _smtp(env: Mapping[str, str]) -> dict[str, Any]:
    host = _str(env, "OTPGATE_SMTP_HOST", "")
    security = _str(env, "OTPGATE_SMTP_SECURITY", "starttls").lower()
    if security not in _SMTP_SECURITY:
        raise ConfigError(f"OTPGATE_SMTP_SECURITY must be none, starttls or tls, got {security!r}")
    sender = _str(env, "OTPGATE_SMTP_FROM", "")
    if host and "@" not in sender:
        raise ConfigError(
            "OTPGATE_SMTP_FROM must be an e-mail address when OTPGATE_SMTP_HOST is set"
        )
    port = _int(env, "OTPGATE_SMTP_PORT", 0, 0)
    if port > 65535:
        raise ConfigError(f"OTPGATE_SMTP_PORT must be at most 65535, got {port}")
    return {
        "smtp_host": host,
        "smtp_port": port,
        "smtp_security": security,
        "smtp_user": _str(env, "OTPGATE_SMTP_USER", ""),
        # Not stripped: a password may start or end with a space.
        "smtp_password": env.get("OTPGATE_SMTP_PASSWORD", ""),
        "smtp_from": sender,
        "smtp_timeout": _int(env, "OTPGATE_SMTP_TIMEOUT", 10, 1),
    }


_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
#: WCAG AA for normal text: the accent is used for links on white and under white text.
MIN_ACCENT_CONTRAST = 4.5
_LOGO_MAX_BYTES = 256 * 1024


def _branding(env: Mapping[str, str]) -> dict[str, Any]:
    name = _str(env, "OTPGATE_PRODUCT_NAME", "otpgate")
    if len(name) > 60 or any(ord(c) < 0x20 for c in name):
        raise ConfigError("OTPGATE_PRODUCT_NAME must be at most 60 characters, on one line")
    colour = _str(env, "OTPGATE_ACCENT_COLOR", "")
    if colour:
        if not _COLOUR.fullmatch(colour):
            raise ConfigError(f"OTPGATE_ACCENT_COLOR must be a colour like #1f5fbf, got {colour!r}")
        ratio = contrast_with_white(colour)
        if ratio < MIN_ACCENT_CONTRAST:
            raise ConfigError(
                f"OTPGATE_ACCENT_COLOR {colour} has a contrast of {ratio:.1f}:1 against white; "
                f"links and buttons need at least {MIN_ACCENT_CONTRAST}:1: choose a darker colour"
            )
        colour = colour.lower()
    logo = _path(env, "OTPGATE_LOGO_FILE")
    if logo is not None:
        logo_type(logo)
    return {"product_name": name, "accent_color": colour, "logo_file": logo}


def contrast_with_white(colour: str) -> float:
    """WCAG contrast ratio of ``#rrggbb`` against white (1 to 21)."""

    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    luminance = 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)
    return 1.05 / (luminance + 0.05)


_SVG_FORBIDDEN = re.compile(rb"<script|<foreignobject|\bon[a-z]+\s*=|javascript:|<!entity",
                            re.IGNORECASE)


def logo_type(path: Path) -> str:
    """The content type of a usable logo file (PNG or a script-free SVG), else ConfigError."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"OTPGATE_LOGO_FILE cannot be read: {exc.strerror}") from None
    if len(data) > _LOGO_MAX_BYTES:
        raise ConfigError(f"OTPGATE_LOGO_FILE must be at most {_LOGO_MAX_BYTES // 1024} KiB")
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    head = data[:1024].lstrip().lower()
    if (head.startswith((b"<svg", b"<?xml")) and b"<svg" in data.lower()
            and not _SVG_FORBIDDEN.search(data)):
        return "image/svg+xml"
    raise ConfigError(
        "OTPGATE_LOGO_FILE must be a PNG image or an SVG image without scripts or event handlers"
    )
